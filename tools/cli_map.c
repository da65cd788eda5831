/*
 * cli_map.c - `mproc map NAME KERNEL`: applies a kernel to every element of a named
 * array with a worker pool, in place or into a new array (--out).
 *
 * cli_map_find_kernel is the one place where a KERNEL name becomes a function (a
 * built-in op, or a kernel of a library given with --lib), and make_pool the one place
 * where the pool is configured (--workers, --chunk, --start, and the --lib libraries for
 * its workers).
 */
#include "cli_array.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "mproc.h"

void cli_map_usage(FILE *f)
{
    fputs("usage: mproc map NAME KERNEL [--scalar X] [--workers W] [--chunk C] [--out NAME2]\n"
          "                 [--lib PATH]... [--start fork|spawn] [-v]\n"
          "\n"
          "Applies KERNEL to every element of the named array NAME with a pool of worker\n"
          "processes: in place, or with --out into a new array NAME2 of the same dtype and\n"
          "length (NAME is then unchanged). Prints nothing unless -v.\n"
          "\n"
          "kernels, built in for every dtype (integers wrap modulo 2^bits, floats IEEE):\n"
          "  square  x*x        cube  x*x*x      negate  -x         abs  |x|\n"
          "  add     x + X      mul   x * X      (X given with --scalar)\n"
          "or a kernel of a library given with --lib: a shared object that exports an\n"
          "mproc_kernels table (see mproc.h, \"Kernels by name\"); such a kernel gets the\n"
          "--scalar value, if given, as its ctx.\n"
          "\n"
          "  --scalar X     the X of add and mul, a value of the array's dtype; the other\n"
          "                 kernels take none\n"
          "  --out NAME2    write the results into the new array NAME2 (an error if it\n"
          "                 exists), kept as 'mproc create' keeps its arrays ('mproc gc'\n"
          "                 leaves it; 'mproc rm' removes it); removed if the map fails\n"
          "  --workers W    processes in the pool, the caller included; 0 (default): all CPUs\n"
          "  --chunk C      elements per chunk handed to a worker; 0 (default): automatic\n"
          "  --lib PATH     load the kernel library PATH (a path, not a bare name), here\n"
          "                 and in every worker; may be given up to 8 times\n"
          "  --start M      how workers start: fork (default) or spawn (fresh programs:\n"
          "                 this command, or $MPROC_WORKER_EXE when set)\n"
          "  -v, --verbose  print one line: elements, dtype, workers, chunk, time\n"
          "  -h, --help     print this help\n"
          "\n"
          "Exit status: 0 done; 1 no array NAME, NAME2 exists, or the map failed (a worker\n"
          "kept dying: the elements it left are named); 2 usage error; 130 / 143 stopped\n"
          "by SIGINT / SIGTERM: a map under way is finished first (in place, NAME is then\n"
          "transformed: the message says which), NAME2 is removed.\n",
          f);
}

/* ---- command line ----------------------------------------------------------------- */

enum { M_SCALAR, M_WORKERS, M_CHUNK, M_OUT, M_VERBOSE, M_LIB, M_START };

static const cli_option map_options[] = {
    {"--help", CLI_OPT_HELP, 0}, {"-h", CLI_OPT_HELP, 0},       {"--scalar", M_SCALAR, 1},
    {"--workers", M_WORKERS, 1}, {"--chunk", M_CHUNK, 1},       {"--out", M_OUT, 1},
    {"-v", M_VERBOSE, 0},        {"--verbose", M_VERBOSE, 0},   {"--lib", M_LIB, 1},
    {"--start", M_START, 1},
};

static int map_apply(void *ctx, int id, const char *opt, const char *val)
{
    cli_map_opts *o = ctx;

    switch (id) {
    case M_SCALAR: o->scalar = val; return 0;
    case M_WORKERS: return cli_opt_count(opt, val, 0, MPROC_MAX_WORKERS, &o->workers);
    case M_CHUNK: return cli_opt_count(opt, val, 0, SIZE_MAX, &o->chunk);
    case M_OUT: o->out = val; return 0;
    case M_VERBOSE: o->verbose = 1; return 0;
    case M_LIB:
        if (o->nlibs == CLI_MAP_LIBS_MAX) {
            cli_error("option --lib given more than %d times", CLI_MAP_LIBS_MAX);
            return -1;
        }
        if (val[0] == '\0') {
            cli_error("option --lib needs a path");
            return -1;
        }
        o->libs[o->nlibs++] = val;
        return 0;
    case M_START:
        if (!strcmp(val, "fork")) {
            o->start_method = MPROC_START_FORK;
        } else if (!strcmp(val, "spawn")) {
            o->start_method = MPROC_START_SPAWN;
        } else {
            cli_error("invalid value '%s' for --start: fork or spawn", val);
            return -1;
        }
        return 0;
    default: return -1;
    }
}

int cli_map_parse(int argc, char **argv, cli_map_opts *o)
{
    const char *pos[2];
    int npos, rc;
    cli_command cmd = {"map", map_options, sizeof map_options / sizeof map_options[0],
                       map_apply, o, cli_map_usage, 2};

    memset(o, 0, sizeof *o);
    rc = cli_parse_command(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc;
    if (npos < 2) {
        cli_error("map needs %s (try 'mproc map --help')",
                  npos == 0 ? "an array name and a kernel" : "a kernel after the array name");
        return -1;
    }
    o->name = pos[0];
    o->kernel = pos[1];
    return 0;
}

/* ---- kernels ---------------------------------------------------------------------- */

int cli_map_find_kernel(const cli_map_opts *o, mproc_dtype dtype, cli_map_kernel *out)
{
    mproc_op op;
    const char *why;
    int err, takes_scalar;

    memset(out, 0, sizeof *out);
    /* The libraries are loaded here, before make_pool: forked workers inherit them,
     * spawned ones load them again (mproc_pool_load_kernels in make_pool). */
    for (int i = 0; i < o->nlibs; i++) {
        err = mproc_kernel_load(o->libs[i]);
        if (err) {
            cli_error("cannot load kernel library %s: %s", o->libs[i], mproc_strerror(err));
            return CLI_EXIT_USAGE;
        }
    }
    if (mproc_op_parse(o->kernel, &op) != 0) {
        if (o->nlibs == 0) {
            cli_error("unknown kernel '%s' (square, cube, negate, abs, add, mul, or a kernel "
                      "of a library given with --lib)", o->kernel);
            return CLI_EXIT_USAGE;
        }
        err = mproc_kernel_find(o->kernel, dtype, &out->fn);
        if (err) {
            cli_error("no kernel '%s' for %s in the --lib libraries", o->kernel,
                      mproc_dtype_name(dtype));
            return CLI_EXIT_USAGE;
        }
        out->by_name = 1;
        takes_scalar = o->scalar != NULL; /* the library's kernel decides what ctx means */
        goto scalar;
    }
    takes_scalar = op == MPROC_OP_ADD || op == MPROC_OP_MUL;
    if (takes_scalar && o->scalar == NULL) {
        cli_error("kernel %s needs --scalar X", o->kernel);
        return CLI_EXIT_USAGE;
    }
    if (!takes_scalar && o->scalar != NULL) {
        cli_error("kernel %s takes no --scalar", o->kernel);
        return CLI_EXIT_USAGE;
    }
    err = mproc_kernel_get(op, dtype, &out->fn);
    if (err) {
        cli_error("no %s kernel for %s: %s", o->kernel, mproc_dtype_name(dtype),
                  mproc_strerror(err));
        return CLI_EXIT_FAIL;
    }
scalar:
    if (takes_scalar) {
        /* The ctx of ADD and MUL is one value of the array's dtype. */
        why = cli_parse_value(o->scalar, dtype, out->ctx);
        if (why) {
            cli_error("invalid %s value '%s' for --scalar: %s", mproc_dtype_name(dtype),
                      o->scalar, why);
            return CLI_EXIT_USAGE;
        }
        out->ctx_size = mproc_dtype_size(dtype);
    }
    return 0;
}

/* ---- the run ---------------------------------------------------------------------- */

static int make_pool(const cli_map_opts *o, mproc_pool **pool)
{
    mproc_pool_options po;
    int err;

    mproc_pool_options_init(&po);
    po.workers = (int)o->workers;
    po.chunk = (size_t)o->chunk;
    po.start_method = o->start_method ? o->start_method : MPROC_START_FORK;
    /* Spawned workers run this very program unless told otherwise: the installed
     * `mproc` may be another version, or not installed at all. */
    const char *exe = getenv("MPROC_WORKER_EXE");
    po.worker_exe = exe != NULL && exe[0] != '\0' ? exe : "/proc/self/exe";
    err = mproc_pool_create(pool, &po);
    for (int i = 0; err == 0 && i < o->nlibs; i++)
        err = mproc_pool_load_kernels(*pool, o->libs[i]);
    if (err && !cli_stop_signal)
        cli_error("cannot start the worker pool: %s", mproc_strerror(err));
    if (err) {
        mproc_pool_destroy(*pool);
        *pool = NULL;
    }
    return err;
}

static void report_failure(const mproc_pool *pool, int err)
{
    mproc_map_failure f;

    if (err == MPROC_EWORKER && mproc_pool_last_failure(pool, &f) == 0)
        cli_error("map failed: %s; elements [%zu, %zu) were left as they were (%d worker%s "
                  "died on them, last %s %d)", mproc_strerror(err), f.start, f.end, f.deaths,
                  f.deaths == 1 ? "" : "s", f.signal ? "signal" : "exit status",
                  f.signal ? f.signal : f.exit_status);
    else
        cli_error("map failed: %s", mproc_strerror(err));
}

static void print_summary(const cli_map_opts *o, const mproc_pool *pool, const mproc_array *a,
                          double seconds)
{
    size_t n = mproc_array_length(a), es = mproc_dtype_size(mproc_array_dtype(a));
    int workers = mproc_pool_workers(pool);

    printf("map %s %s%s%s: %zu x %s, %d worker%s, chunk %zu, %.6f s\n", o->name, o->kernel,
           o->out ? " -> " : "", o->out ? o->out : "", n, mproc_dtype_name(mproc_array_dtype(a)),
           workers, workers == 1 ? "" : "s", mproc_pool_chunk_for(pool, n, es), seconds);
}

static int run_map(const cli_map_opts *o)
{
    mproc_array *src = NULL, *dst = NULL;
    mproc_pool *pool = NULL;
    cli_map_kernel k;
    int status, err, mapped = 0;

    err = mproc_array_attach(&src, o->name, MPROC_DTYPE_ANY);
    if (err)
        return cli_array_error("cannot open", o->name, err);
    status = cli_map_find_kernel(o, mproc_array_dtype(src), &k);
    if (status)
        goto out;
    if (o->out) {
        err = mproc_array_create(&dst, o->out, mproc_array_dtype(src), mproc_array_length(src));
        if (err) {
            status = cli_array_error("cannot create", o->out, err);
            goto out;
        }
        cli_set_exit_unlink(o->out);
    }
    status = CLI_EXIT_FAIL;
    if (cli_stop_signal || make_pool(o, &pool))
        goto out;

    double t0 = cli_now();
    if (k.by_name)
        err = mproc_map_named(pool, o->kernel, k.ctx_size ? k.ctx : NULL, k.ctx_size, src,
                              dst ? dst : src);
    else
        err = mproc_map(pool, k.fn, k.ctx_size ? k.ctx : NULL, k.ctx_size, src, dst ? dst : src);
    double t1 = cli_now();

    mapped = 1;
    if (cli_stop_signal)
        goto out;
    if (err) {
        report_failure(pool, err);
        goto out;
    }
    /* NAME2 outlives this command like the arrays of `mproc create`: kept once complete. */
    if (dst && (err = mproc_array_set_keep(dst, 1)) != 0) {
        cli_array_error("cannot keep", o->out, err);
        goto out;
    }
    status = CLI_EXIT_OK;
    if (o->verbose)
        print_summary(o, pool, src, t1 - t0);
out:
    if (cli_stop_signal) {
        status = cli_stop_status();
        if (o->out)
            cli_error("interrupted; %s not created", o->out);
        else if (mapped)
            cli_error("interrupted; the map had finished: %s is transformed", o->name);
        else
            cli_error("interrupted before the map; %s is unchanged", o->name);
    }
    mproc_pool_destroy(pool);
    if (dst && status != CLI_EXIT_OK)
        mproc_array_unlink(o->out); /* nothing half-made stays */
    cli_set_exit_unlink(NULL);
    mproc_array_close(dst);
    mproc_array_close(src);
    return status;
}

int cli_map_main(int argc, char **argv)
{
    cli_map_opts o;
    int rc = cli_map_parse(argc, argv, &o);

    if (rc)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    cli_install_signal_handlers();
    return run_map(&o);
}
