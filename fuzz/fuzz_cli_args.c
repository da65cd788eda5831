/*
 * fuzz_cli_args.c - libFuzzer harness for the mproc command's argument parsing.
 *
 * The input is split at NUL bytes into arguments (at most 64, each cut at 300 bytes).
 * The first byte picks what parses them, without running anything:
 *   0: `mproc square ARGS` - the square command's option parser (parse_args), then, when
 *      it accepted --values, the value list parser (cli_parse_list) for the chosen dtype;
 *   1: `mproc ls ARGS`, 2: `mproc gc ARGS` (cli_segments_parse);
 *   3: each argument through cli_parse_count and cli_parse_value for every dtype, and
 *      the value formatting of what was parsed.
 * The square parser is static in tools/cli_square.c, so that file is included here
 * rather than changed; its usage texts and errors go to stdout/stderr (run.sh closes
 * them with -close_fd_mask=3).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/cli_square.c"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    char *argv[FZ_MAX_ARGS + 2];
    char *store = malloc(size + 1); /* the arguments, NUL-terminated in place */
    if (store == NULL)
        return 0;
    memcpy(store, data + 1, size - 1);
    store[size - 1] = '\0';
    static const char *cmd[] = {"square", "ls", "gc", "values"};
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
