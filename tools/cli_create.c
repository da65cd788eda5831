/*
 * cli_create.c - `mproc create` (a named array in /dev/shm, filled with zeros, 0 1 2 ..,
 * pseudo-random values or a list) and `mproc rm` (remove named arrays).
 *
 * A created array belongs to the user until `mproc rm`. The command that created it
 * exits at once, so its creator is dead from then on: the array is marked kept
 * (mproc_array_set_keep) once it is filled, so that `mproc gc`, which reclaims arrays of
 * dead creators, leaves it alone. One left half made by a killed create is not kept, and
 * gc reclaims it.
 */
#include "cli_array.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "mproc.h"

#define FILL_BLOCK ((size_t)1 << 20) /* elements filled between stop/progress checks */
#define DEFAULT_SEED 1

void cli_create_usage(FILE *f)
{
    fputs("usage: mproc create NAME --n N [--dtype T] [--fill zero|iota|random] [--seed S]\n"
          "       mproc create NAME --values LIST [--dtype T]\n"
          "\n"
          "Creates the named array NAME in /dev/shm (mode 0600). It stays there until\n"
          "'mproc rm NAME': other programs attach it by name (mproc_array_attach), and\n"
          "'mproc map' and 'mproc show' work on it. The array is marked kept (made to\n"
          "outlive its creator, this command, which exits at once): 'mproc gc' never\n"
          "removes it, and 'mproc ls' and 'mproc info' show it as kept.\n"
          "\n"
          "  --n N          elements, 0 or more (1000000 or 1e6)\n"
          "  --dtype T      int8 int16 int32 int64 uint8 .. uint64 float32 float64, short\n"
          "                 names (i8 u16 i32 f64) or Python typecodes (b B h H i I l L q Q\n"
          "                 f d); default int32\n"
          "  --fill zero    every element 0 (the default)\n"
          "  --fill iota    a[i] = i, wrapped to the dtype (int8: ..., 127, -128, -127, ...)\n"
          "  --fill random  pseudo-random and reproducible: element i is made from output\n"
          "                 i + 1 of SplitMix64 seeded with S; integers take its low bits\n"
          "                 (the whole range of the dtype), floats are uniform in [0, 1)\n"
          "  --seed S       the seed of --fill random, 0 .. 2^64-1; default 1\n"
          "  --values LIST  comma-separated values of the dtype (1,2,3); --n, if given,\n"
          "                 must be their count\n"
          "  -h, --help     print this help\n"
          "\n"
          "Exit status: 0 created; 1 NAME exists or the array cannot be created; 2 usage\n"
          "error. A failed or interrupted create leaves nothing in /dev/shm. Names: 1 to\n"
          "200 characters from A-Z a-z 0-9 . _ - (give '--' before a name that starts\n"
          "with '-').\n",
          f);
}

void cli_rm_usage(FILE *f)
{
    fputs("usage: mproc rm NAME... [--force] [-v]\n"
          "\n"
          "Removes each named mproc array from /dev/shm. Processes that have it attached\n"
          "keep their mapping; its memory is freed when the last one closes it. A file in\n"
          "/dev/shm that is not a valid mproc array is refused, unless --force. A name\n"
          "that does not exist is an error; the other names are still removed.\n"
          "\n"
          "  -f, --force    remove the names even if they are not mproc arrays\n"
          "  -v, --verbose  print 'removed NAME' for each one removed\n"
          "  -h, --help     print this help\n"
          "\n"
          "Exit status: 0 all removed; 1 some name was missing, refused or not removed;\n"
          "2 usage error (an invalid name: then nothing is removed).\n",
          f);
}

/* ---- create: command line --------------------------------------------------------- */

enum { C_N, C_DTYPE, C_FILL, C_SEED, C_VALUES };

static const cli_option create_options[] = {
    {"--help", CLI_OPT_HELP, 0}, {"-h", CLI_OPT_HELP, 0},   {"--n", C_N, 1},
    {"--dtype", C_DTYPE, 1},     {"--fill", C_FILL, 1},     {"--seed", C_SEED, 1},
    {"--values", C_VALUES, 1},
};

static int create_apply(void *ctx, int id, const char *opt, const char *val)
{
    cli_create_opts *o = ctx;

    switch (id) {
    case C_N:
        o->n_given = 1;
        return cli_opt_count(opt, val, 0, SIZE_MAX, &o->n);
    case C_DTYPE: return cli_opt_dtype(val, &o->dtype);
    case C_SEED:
        o->seed_given = 1;
        return cli_opt_count(opt, val, 0, UINT64_MAX, &o->seed);
    case C_VALUES: o->values = val; return 0;
    case C_FILL:
        o->fill_given = 1;
        if (!strcmp(val, "zero"))
            o->fill = CLI_FILL_ZERO;
        else if (!strcmp(val, "iota"))
            o->fill = CLI_FILL_IOTA;
        else if (!strcmp(val, "random"))
            o->fill = CLI_FILL_RANDOM;
        else {
            cli_error("invalid value '%s' for --fill: zero, iota or random", val);
            return -1;
        }
        return 0;
    default: return -1;
    }
}

int cli_create_parse(int argc, char **argv, cli_create_opts *o)
{
    const char *pos[1];
    int npos, rc;
    cli_command cmd = {"create", create_options, sizeof create_options / sizeof create_options[0],
                       create_apply, o, cli_create_usage, 1};

    memset(o, 0, sizeof *o);
    o->dtype = MPROC_INT32;
    o->seed = DEFAULT_SEED;
    rc = cli_parse_command(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc;
    if (npos == 0) {
        cli_error("create needs an array name (try 'mproc create --help')");
        return -1;
    }
    o->name = pos[0];
    if (!o->values && !o->n_given) {
        cli_error("create needs --n N or --values LIST (try 'mproc create --help')");
        return -1;
    }
    if (o->values && o->fill_given) {
        cli_error("--fill and --values cannot be used together");
        return -1;
    }
    if (o->seed_given && o->fill != CLI_FILL_RANDOM) {
        cli_error("--seed needs --fill random");
        return -1;
    }
    return 0;
}

/* ---- create: the run -------------------------------------------------------------- */

/* Fills in blocks, so that a stop request and the progress bar are seen. 0, or -1 when
 * a signal asked to stop. */
static int fill(const cli_create_opts *o, void *data, size_t n)
{
    size_t es = mproc_dtype_size(o->dtype);
    cli_progress pg;
    int rc = 0;

    cli_progress_start(&pg, (double)n);
    for (size_t i = 0; i < n; i += FILL_BLOCK) {
        size_t cnt = n - i < FILL_BLOCK ? n - i : FILL_BLOCK;
        char *block = (char *)data + i * es;

        if (cli_stop_signal) {
            rc = -1;
            break;
        }
        cli_progress_update(&pg, "fill", (double)i);
        if (o->fill == CLI_FILL_IOTA)
            cli_fill_index(o->dtype, block, i, cnt);
        else
            cli_fill_random(o->dtype, block, o->seed, i, cnt);
    }
    cli_progress_finish(&pg);
    return rc;
}

static int create_array(const cli_create_opts *o, mproc_array **arr)
{
    void *values = NULL;
    size_t count = 0;
    int err;

    if (!o->values) {
        err = mproc_array_create(arr, o->name, o->dtype, (size_t)o->n);
        return err ? cli_array_error("cannot create", o->name, err) : 0;
    }
    if (cli_parse_list(o->values, o->dtype, "--values", &values, &count))
        return CLI_EXIT_USAGE;
    if (o->n_given && o->n != count) {
        cli_error("--n %" PRIu64 " does not match the %zu value%s of --values", o->n, count,
                  count == 1 ? "" : "s");
        free(values);
        return CLI_EXIT_USAGE;
    }
    err = mproc_array_create_from(arr, o->name, o->dtype, values, count);
    free(values);
    return err ? cli_array_error("cannot create", o->name, err) : 0;
}

int cli_create_main(int argc, char **argv)
{
    cli_create_opts o;
    mproc_array *arr = NULL;
    int status = cli_create_parse(argc, argv, &o);

    if (status)
        return status > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    cli_install_signal_handlers();
    status = create_array(&o, &arr);
    if (status)
        return status;
    cli_set_exit_unlink(o.name);
    if (o.fill != CLI_FILL_ZERO) /* a new array is zero-filled already */
        fill(&o, mproc_array_data(arr), mproc_array_length(arr));
    if (cli_stop_signal) {
        mproc_array_unlink(o.name);
        cli_error("interrupted; %s not created", o.name);
        status = cli_stop_status();
    } else {
        /* Last: an array is kept only once it is complete. */
        int err = mproc_array_set_keep(arr, 1);
        if (err) {
            mproc_array_unlink(o.name);
            status = cli_array_error("cannot keep", o.name, err);
        }
    }
    cli_set_exit_unlink(NULL);
    mproc_array_close(arr);
    return status;
}

/* ---- rm --------------------------------------------------------------------------- */

enum { R_FORCE, R_VERBOSE };

static const cli_option rm_options[] = {
    {"--help", CLI_OPT_HELP, 0}, {"-h", CLI_OPT_HELP, 0},     {"--force", R_FORCE, 0},
    {"-f", R_FORCE, 0},          {"--verbose", R_VERBOSE, 0}, {"-v", R_VERBOSE, 0},
};

static int rm_apply(void *ctx, int id, const char *opt, const char *val)
{
    cli_rm_opts *o = ctx;

    (void)opt;
    (void)val;
    if (id == R_FORCE)
        o->force = 1;
    else
        o->verbose = 1;
    return 0;
}

int cli_rm_parse(int argc, char **argv, const char **names, cli_rm_opts *o)
{
    int rc;
    cli_command cmd = {"rm", rm_options, sizeof rm_options / sizeof rm_options[0], rm_apply, o,
                       cli_rm_usage, argc};

    memset(o, 0, sizeof *o);
    o->names = names;
    rc = cli_parse_command(&cmd, argc, argv, names, &o->count);
    if (rc)
        return rc;
    if (o->count == 0) {
        cli_error("rm needs at least one array name (try 'mproc rm --help')");
        return -1;
    }
    return 0;
}

/* Errors of mproc_segment_stat that mean: this file is not (or no longer) a valid
 * mproc array. */
static int not_an_array(int err)
{
    return err == MPROC_EBADMAGIC || err == MPROC_ETRUNCATED || err == MPROC_EVERSION ||
           err == MPROC_ECORRUPT;
}

/* Removes one name; 0 or CLI_EXIT_FAIL after printing why not. */
static int rm_one(const cli_rm_opts *o, const char *name)
{
    mproc_segment_info info;
    int err = mproc_segment_stat(name, &info);

    if (err == MPROC_ENOENT)
        return cli_array_error("cannot remove", name, err);
    if (err && !o->force) {
        if (not_an_array(err))
            cli_error("%s is not an mproc array (%s); not removed (--force removes it)", name,
                      mproc_strerror(err));
        else
            cli_error("cannot remove %s: %s", name, mproc_strerror(err));
        return CLI_EXIT_FAIL;
    }
    /* A window remains between the check and the unlink, where another process could
     * replace the name; POSIX has no unlink-if-same-file. */
    err = mproc_array_unlink(name);
    if (err) {
        cli_array_error("cannot remove", name, err); /* ENOENT: removed by someone else */
        return CLI_EXIT_FAIL;
    }
    if (o->verbose)
        printf("removed %s\n", name);
    return 0;
}

int cli_rm_main(int argc, char **argv)
{
    cli_rm_opts o;
    const char **names = malloc((size_t)argc * sizeof *names);
    int status;

    if (names == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    status = cli_rm_parse(argc, argv, names, &o);
    if (status) {
        free(names);
        return status > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    /* Every name is checked before anything is removed: a typo is a usage error. */
    for (int i = 0; i < o.count; i++) {
        mproc_segment_info info;
        int err = mproc_segment_stat(names[i], &info);

        if (err == MPROC_ENAME || err == MPROC_EINVAL) {
            status = cli_array_error("cannot remove", names[i], MPROC_ENAME);
            free(names);
            return status;
        }
    }
    for (int i = 0; i < o.count; i++)
        if (rm_one(&o, names[i]))
            status = CLI_EXIT_FAIL;
    free(names);
    return status;
}
