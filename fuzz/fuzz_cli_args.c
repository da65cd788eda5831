/*
 * fuzz_cli_args.c - libFuzzer harness for the mproc command's argument parsing.
 *
 * The input is split at NUL bytes into arguments (at most 64, each cut at 300 bytes).
 * The first byte picks what parses them, without running anything:
 *   0: `mproc square ARGS` - the square command's option parser (parse_args), then, when
 *      it accepted --values, the value list parser (cli_parse_list) for the chosen dtype;
 *   1: `mproc ls ARGS`, 2: `mproc gc ARGS` (cli_segments_parse);
 *   3: each argument through cli_parse_count and cli_parse_value for every dtype, and
 *      the value formatting of what was parsed;
 *   4: `mproc create ARGS` (cli_create_parse, then the --values list for its dtype);
 *   5: `mproc map ARGS` (cli_map_parse, then the kernel lookup and the --scalar for
 *      every dtype: cli_map_find_kernel creates nothing);
 *   6: `mproc show ARGS`, 7: `mproc info ARGS`, 8: `mproc rm ARGS` (their parsers).
 * The square parser is static in tools/cli_square.c, so that file is included here
 * rather than changed; its usage texts and errors go to stdout/stderr (run.sh closes
 * them with -close_fd_mask=3).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/cli_square.c"
#include "cli_array.h"
#include "cli_segments.h"

#define FZ_MAX_ARGS 64
#define FZ_MAX_ARG 300

static void fz_square(int argc, char **argv)
{
    square_opts o;
    if (parse_args(argc, argv, &o) != 0 || o.values == NULL)
        return;
    void *values = NULL;
    size_t count = 0;
    if (cli_parse_list(o.values, o.dtype, "--values", &values, &count) == 0) {
        char buf[64];
        for (size_t i = 0; i < count; i++)
            cli_format_value(buf, sizeof buf, o.dtype, values, i);
        free(values);
    }
}

static void fz_values(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        uint64_t n;
        (void)cli_parse_count(argv[i], &n);
        for (int t = 1; t <= MPROC_DTYPE_COUNT; t++) {
            unsigned char v[8];
            char buf[64];
            if (cli_parse_value(argv[i], (mproc_dtype)t, v) == NULL)
                cli_format_value(buf, sizeof buf, (mproc_dtype)t, v, 0);
        }
    }
}

static void fz_create(int argc, char **argv)
{
    cli_create_opts o;
    if (cli_create_parse(argc, argv, &o) != 0)
        return;
    if (o.name == NULL || (o.values == NULL && !o.n_given))
        abort(); /* accepted without what create needs */
    void *values = NULL;
    size_t count = 0;
    if (o.values && cli_parse_list(o.values, o.dtype, "--values", &values, &count) == 0)
        free(values);
}

static void fz_map(int argc, char **argv)
{
    cli_map_opts o;
    if (cli_map_parse(argc, argv, &o) != 0)
        return;
    if (o.name == NULL || o.kernel == NULL)
        abort();
    for (int t = 1; t <= MPROC_DTYPE_COUNT; t++) {
        cli_map_kernel k;
        if (cli_map_find_kernel(&o, (mproc_dtype)t, &k) == 0 &&
            (k.fn == NULL || k.ctx_size > (size_t)MPROC_CTX_MAX))
            abort();
    }
}

static void fz_others(int mode, int argc, char **argv)
{
    if (mode == 6) {
        cli_show_opts o;
        if (cli_show_parse(argc, argv, &o) == 0 && o.name == NULL)
            abort();
    } else if (mode == 7) {
        cli_info_opts o;
        if (cli_info_parse(argc, argv, &o) == 0 && o.name == NULL)
            abort();
    } else {
        const char *names[FZ_MAX_ARGS + 2];
        cli_rm_opts o;
        if (cli_rm_parse(argc, argv, names, &o) == 0 && (o.count < 1 || o.count >= argc))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 9;
    char *argv[FZ_MAX_ARGS + 2];
    char *store = malloc(size + 1); /* the arguments, NUL-terminated in place */
    if (store == NULL)
        return 0;
    memcpy(store, data + 1, size - 1);
    store[size - 1] = '\0';
    static const char *cmd[] = {"square", "ls", "gc", "values", "create",
                                "map", "show", "info", "rm"};
    int argc = 0;
    argv[argc++] = (char *)cmd[mode];
    for (size_t i = 0; i < size - 1 && argc < FZ_MAX_ARGS + 1;) {
        char *arg = store + i;
        size_t len = strlen(arg);
        if (len > FZ_MAX_ARG)
            arg[FZ_MAX_ARG] = '\0';
        argv[argc++] = arg;
        i += len + 1;
    }
    argv[argc] = NULL;

    if (mode == 0) {
        fz_square(argc, argv);
    } else if (mode == 3) {
        fz_values(argc - 1, argv + 1);
    } else if (mode == 4) {
        fz_create(argc, argv);
    } else if (mode == 5) {
        fz_map(argc, argv);
    } else if (mode >= 6) {
        fz_others(mode, argc, argv);
    } else {
        cli_segments_opts o;
        int rc = cli_segments_parse(argc, argv, &o);
        if (rc == 0 && o.cmd != (mode == 1 ? CLI_SEG_LS : CLI_SEG_GC))
            abort();
        if (rc == 0 && o.prefix != NULL && strlen(o.prefix) > (size_t)FZ_MAX_ARG)
            abort();
    }
    free(store);
    return 0;
}
