/*
 * cli_square.c - `mproc square`: square an array in place with a worker pool.
 *
 *   --values LIST  the seed program: the listed values squared, printed as a list;
 *   --n N          a[i] = i (wrapped to the dtype) squared K times, the parallel square
 *                  alone timed; elements/s and GB/s (one read + one write per element).
 */
#include "cli_square.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "mproc.h"

#define REPEAT_MAX 1000000
#define FILL_BLOCK ((size_t)1 << 20)   /* elements filled between stop/progress checks */
#define VERIFY_BLOCK ((size_t)1 << 16) /* elements per serial reference block */
#define VALUE_TEXT 64

typedef struct square_opts {
    const char *values; /* --values LIST, or NULL */
    uint64_t n;         /* --n N; 0 when not given */
    mproc_dtype dtype;
    uint64_t workers;
    uint64_t chunk;
    uint64_t repeat;
    int repeat_given;
    int verify;
    int json;
} square_opts;

void cli_square_usage(FILE *f)
{
    fputs("usage: mproc square --values LIST [--dtype T] [--workers W] [--chunk C] [--verify]\n"
          "       mproc square --n N [--dtype T] [--workers W] [--chunk C] [--repeat K]\n"
          "                    [--verify] [--json]\n"
          "\n"
          "Squares an array in place with a pool of worker processes.\n"
          "\n"
          "  --values LIST  comma-separated values of the dtype (2,3,4); prints the squares\n"
          "  --n N          fill a[i] = i (wrapped to the dtype) for N >= 1 elements (100000000\n"
          "                 or 1e8), square in place and report the time of the parallel\n"
          "                 square alone, elements/s and GB/s (one read + one write each)\n"
          "  --dtype T      int8 int16 int32 int64 uint8 .. uint64 float32 float64, short\n"
          "                 names (i8 u16 i32 f64) or Python typecodes (b B h H i I l L q Q\n"
          "                 f d); default int32. Integer squares wrap modulo 2^bits\n"
          "  --workers W    processes in the pool, the caller included; 0 (default): all CPUs\n"
          "  --chunk C      elements per chunk handed to a worker; 0 (default): automatic\n"
          "  --repeat K     K timed squares (the array refilled between them, untimed);\n"
          "                 the median and the minimum are reported; default 1\n"
          "  --verify       compare every element with a serial square; exit 1 on mismatch\n"
          "  --json         print one JSON object: n, dtype, elem_size, workers, chunk,\n"
          "                 repeat, seconds (median), seconds_min, seconds_max, times,\n"
          "                 elems_per_s, gbps, gbps_best, verified (true/false/null)\n"
          "  -h, --help     print this help\n"
          "\n"
          "Options take their value as '--n 1e8' or '--n=1e8'. A progress bar is drawn on\n"
          "stderr when it is a terminal and the run lasts over a second.\n",
          f);
}

/* ---- command line ----------------------------------------------------------------- */

enum { OPT_HELP, OPT_VALUES, OPT_N, OPT_DTYPE, OPT_WORKERS, OPT_CHUNK, OPT_REPEAT,
       OPT_VERIFY, OPT_JSON };

static const struct {
    const char *name;
    int id;
    int takes_value;
} square_options[] = {
    {"--help", OPT_HELP, 0},       {"-h", OPT_HELP, 0},         {"--values", OPT_VALUES, 1},
    {"--n", OPT_N, 1},             {"--dtype", OPT_DTYPE, 1},   {"--workers", OPT_WORKERS, 1},
    {"--chunk", OPT_CHUNK, 1},     {"--repeat", OPT_REPEAT, 1}, {"--verify", OPT_VERIFY, 0},
    {"--json", OPT_JSON, 0},
};

static int apply_option(square_opts *o, int id, const char *name, const char *val)
{
    switch (id) {
    case OPT_VALUES: o->values = val; return 0;
    case OPT_N: return cli_opt_count(name, val, 1, SIZE_MAX, &o->n);
    case OPT_WORKERS: return cli_opt_count(name, val, 0, MPROC_MAX_WORKERS, &o->workers);
    case OPT_CHUNK: return cli_opt_count(name, val, 0, SIZE_MAX, &o->chunk);
    case OPT_REPEAT:
        o->repeat_given = 1;
        return cli_opt_count(name, val, 1, REPEAT_MAX, &o->repeat);
    case OPT_VERIFY: o->verify = 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_DTYPE: return cli_opt_dtype(val, &o->dtype);
    default: return -1;
    }
}

/* Returns 0 to run, 1 when help was printed, -1 after a usage error was printed. */
static int parse_args(int argc, char **argv, square_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dtype = MPROC_INT32;
    o->repeat = 1;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '='), *val = NULL;
        size_t len = eq && arg[0] == '-' ? (size_t)(eq - arg) : strlen(arg);
        size_t k, count = sizeof square_options / sizeof square_options[0];

        for (k = 0; k < count; k++)
            if (strlen(square_options[k].name) == len && !strncmp(arg, square_options[k].name, len))
                break;
        if (k == count) {
            if (arg[0] == '-' && arg[1] != '\0')
                cli_error("unknown option '%.*s' for square (try 'mproc square --help')",
                          (int)len, arg);
            else
                cli_error("unexpected argument '%s' (try 'mproc square --help')", arg);
            return -1;
        }
        const char *name = square_options[k].name;
        if (!square_options[k].takes_value) {
            if (eq) {
                cli_error("option %s takes no value", name);
                return -1;
            }
            if (square_options[k].id == OPT_HELP) {
                cli_square_usage(stdout);
                return 1;
            }
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            cli_error("option %s needs a value", name);
            return -1;
        }
        if (apply_option(o, square_options[k].id, name, val))
            return -1;
    }

    if (o->values && o->n) {
        cli_error("--values and --n cannot be used together");
        return -1;
    }
    if (!o->values && !o->n) {
        cli_error("square needs --n N or --values LIST (try 'mproc square --help')");
        return -1;
    }
    if (o->values && (o->repeat_given || o->json)) {
        cli_error("%s needs --n, not --values", o->json ? "--json" : "--repeat");
        return -1;
    }
    return 0;
}

/* ---- the run ---------------------------------------------------------------------- */

static int make_pool(const square_opts *o, mproc_pool **pool)
{
    mproc_pool_options po;
    int err;

    mproc_pool_options_init(&po);
    po.workers = (int)o->workers;
    po.chunk = (size_t)o->chunk;
    err = mproc_pool_create(pool, &po);
    if (err && !cli_stop_signal)
        cli_error("cannot start the worker pool: %s", mproc_strerror(err));
    return err;
}

/* Fills a[i] = i in blocks, so that a stop request and the progress bar are seen. */
static int fill_array(mproc_dtype dtype, void *data, size_t n, cli_progress *pg,
                      const char *label, double base)
{
    size_t es = mproc_dtype_size(dtype);

    for (size_t i = 0; i < n; i += FILL_BLOCK) {
        size_t cnt = n - i < FILL_BLOCK ? n - i : FILL_BLOCK;

        if (cli_stop_signal)
            return -1;
        cli_progress_update(pg, label, base + (double)i / (double)n);
        cli_fill_index(dtype, (char *)data + i * es, i, cnt);
    }
    return 0;
}

/*
 * Compares data[0..n) with the serial square of the source: src when given, else the
 * fill a[i] = i. Returns 0 when every element matches bitwise, 1 on a mismatch (*bad is
 * its index, message printed), -1 on an error or a stop request.
 */
static int verify(mproc_dtype dtype, const void *data, size_t n, const void *src,
                  cli_progress *pg, double base, size_t *bad)
{
    size_t es = mproc_dtype_size(dtype);
    mproc_kernel kernel;
    char *ref;
    int rc = 0, err = mproc_kernel_get(MPROC_OP_SQUARE, dtype, &kernel);

    if (err) {
        cli_error("no serial square for %s: %s", mproc_dtype_name(dtype), mproc_strerror(err));
        return -1;
    }
    ref = malloc(VERIFY_BLOCK * es);
    if (!ref) {
        cli_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i += VERIFY_BLOCK) {
        size_t cnt = n - i < VERIFY_BLOCK ? n - i : VERIFY_BLOCK;
        const char *got = (const char *)data + i * es;

        if (cli_stop_signal) {
            rc = -1;
            break;
        }
        if (i % FILL_BLOCK == 0)
            cli_progress_update(pg, "verify", base + (double)i / (double)n);
        if (src)
            memcpy(ref, (const char *)src + i * es, cnt * es);
        else
            cli_fill_index(dtype, ref, i, cnt);
        if (kernel(ref, ref, cnt, NULL) != 0) {
            cli_error("the serial square kernel failed");
            rc = -1;
            break;
        }
        if (memcmp(ref, got, cnt * es) == 0)
            continue;
        for (size_t k = 0; k < cnt; k++) {
            char g[VALUE_TEXT], e[VALUE_TEXT];

            if (memcmp(ref + k * es, got + k * es, es) == 0)
                continue;
            *bad = i + k;
            cli_progress_finish(pg);
            cli_error("verification failed at index %zu: got %s, expected %s", i + k,
                      cli_format_value(g, sizeof g, dtype, got, k),
                      cli_format_value(e, sizeof e, dtype, ref, k));
            free(ref);
            return 1;
        }
    }
    free(ref);
    return rc;
}

static int run_values(const square_opts *o)
{
    mproc_array *arr = NULL;
    mproc_pool *pool = NULL;
    void *values;
    size_t count, bad = SIZE_MAX;
    int status = CLI_EXIT_FAIL, err;
    cli_progress pg;

    if (cli_parse_list(o->values, o->dtype, "--values", &values, &count))
        return CLI_EXIT_USAGE;
    err = mproc_array_create_from(&arr, NULL, o->dtype, values, count);
    if (err) {
        cli_error("cannot create an array of %zu %s: %s", count, mproc_dtype_name(o->dtype),
                  mproc_strerror(err));
        free(values);
        return CLI_EXIT_USAGE;
    }
    cli_progress_start(&pg, 1);
    pg.enabled = 0; /* a list given on the command line is never long */
    if (make_pool(o, &pool))
        goto out;
    err = mproc_square(pool, arr);
    if (cli_stop_signal)
        goto out;
    if (err) {
        cli_error("square failed: %s", mproc_strerror(err));
        goto out;
    }
    const void *data = mproc_array_data(arr);
    if (o->verify) {
        err = verify(o->dtype, data, count, values, &pg, 0, &bad);
        if (err < 0)
            goto out;
    }
    putchar('[');
    for (size_t i = 0; i < count; i++) {
        char v[VALUE_TEXT];
        printf("%s%s", i ? ", " : "", cli_format_value(v, sizeof v, o->dtype, data, i));
    }
    puts("]");
    status = bad == SIZE_MAX ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
    if (cli_stop_signal) {
        cli_error("interrupted");
        status = cli_stop_status();
    }
    mproc_pool_destroy(pool);
    mproc_array_close(arr);
    free(values);
    return status;
}

/* "83.3 M" style: three significant digits and a decimal prefix. */
static const char *si(char *buf, size_t size, double v)
{
    static const char *prefix[] = {"", " k", " M", " G", " T", " P"};
    int p = 0;

    while (v >= 1000.0 && p < 5) {
        v /= 1000.0;
        p++;
    }
    snprintf(buf, size, "%.3g%s", v, prefix[p]);
    return buf;
}

/* "1.234 s", "12.345 ms" or "5.210 us". */
static const char *seconds(char *buf, size_t size, double s)
{
    if (s >= 1.0)
        snprintf(buf, size, "%.3f s", s);
    else if (s >= 1e-3)
        snprintf(buf, size, "%.3f ms", s * 1e3);
    else
        snprintf(buf, size, "%.3f us", s * 1e6);
    return buf;
}

typedef struct square_result {
    size_t workers, chunk;
    double median, min, max;
    const double *times;
    int verified; /* -1 not asked, 0 mismatch, 1 ok */
    size_t bad;
} square_result;

static void print_rate(const char *key, double count, double seconds, int last)
{
    if (seconds > 0)
        printf("\"%s\": %.6g%s", key, count / seconds, last ? "" : ", ");
    else
        printf("\"%s\": null%s", key, last ? "" : ", ");
}

static void print_json(const square_opts *o, const square_result *r)
{
    double bytes = 2.0 * (double)o->n * (double)mproc_dtype_size(o->dtype);

    printf("{\"command\": \"square\", \"version\": \"%s\", \"n\": %" PRIu64 ", "
           "\"dtype\": \"%s\", \"elem_size\": %zu, \"workers\": %zu, \"chunk\": %zu, "
           "\"repeat\": %" PRIu64 ", ",
           mproc_version(), o->n, mproc_dtype_name(o->dtype), mproc_dtype_size(o->dtype),
           r->workers, r->chunk, o->repeat);
    printf("\"seconds\": %.9f, \"seconds_min\": %.9f, \"seconds_max\": %.9f, \"times\": [",
           r->median, r->min, r->max);
    for (uint64_t k = 0; k < o->repeat; k++)
        printf("%s%.9f", k ? ", " : "", r->times[k]);
    printf("], ");
    print_rate("elems_per_s", (double)o->n, r->median, 0);
    print_rate("gbps", bytes / 1e9, r->median, 0);
    print_rate("gbps_best", bytes / 1e9, r->min, 0);
    printf("\"verified\": %s", r->verified < 0 ? "null" : r->verified ? "true" : "false");
    if (r->verified == 0)
        printf(", \"first_bad_index\": %zu", r->bad);
    printf("}\n");
}

static void print_text(const square_opts *o, const square_result *r)
{
    double bytes = 2.0 * (double)o->n * (double)mproc_dtype_size(o->dtype);
    char a[32], b[32], c[32];

    printf("square %" PRIu64 " x %s with %zu worker%s, chunk %zu, %" PRIu64 " repeat%s\n",
           o->n, mproc_dtype_name(o->dtype), r->workers, r->workers == 1 ? "" : "s", r->chunk,
           o->repeat, o->repeat == 1 ? "" : "s");
    if (o->repeat > 1)
        printf("  time    %s median, %s min, %s max\n", seconds(a, sizeof a, r->median),
               seconds(b, sizeof b, r->min), seconds(c, sizeof c, r->max));
    else
        printf("  time    %s\n", seconds(a, sizeof a, r->median));
    if (r->median > 0)
        printf("  rate    %s elements/s, %.3g GB/s (one read + one write per element)\n",
               si(a, sizeof a, (double)o->n / r->median), bytes / r->median / 1e9);
    if (r->verified == 1)
        printf("  verify  ok: every element equals the serial square\n");
    else if (r->verified == 0)
        printf("  verify  FAILED at index %zu\n", r->bad);
}

static int run_n(const square_opts *o)
{
    size_t n = (size_t)o->n;
    mproc_array *arr = NULL;
    mproc_pool *pool = NULL;
    double *times = NULL, *sorted = NULL;
    int status = CLI_EXIT_FAIL, err;
    square_result r = {.verified = -1, .bad = SIZE_MAX};
    cli_progress pg;
    char label[48];

    cli_progress_start(&pg, 2.0 * (double)o->repeat + (o->verify ? 1.0 : 0.0));
    err = mproc_array_create(&arr, NULL, o->dtype, n);
    if (err) {
        cli_error("cannot create an array of %zu %s: %s", n, mproc_dtype_name(o->dtype),
                  mproc_strerror(err));
        return CLI_EXIT_USAGE;
    }
    void *data = mproc_array_data(arr);
    times = calloc(o->repeat, sizeof *times);
    sorted = calloc(o->repeat, sizeof *sorted);
    if (!times || !sorted) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_stop_signal || make_pool(o, &pool))
        goto out;
    err = mproc_pool_prepare(pool, arr);
    if (cli_stop_signal)
        goto out;
    if (err) {
        cli_error("cannot prepare the workers: %s", mproc_strerror(err));
        goto out;
    }
    r.workers = (size_t)mproc_pool_workers(pool);
    r.chunk = mproc_pool_chunk_for(pool, n, mproc_dtype_size(o->dtype));

    for (uint64_t k = 0; k < o->repeat; k++) {
        snprintf(label, sizeof label, "fill %" PRIu64 "/%" PRIu64, k + 1, o->repeat);
        if (fill_array(o->dtype, data, n, &pg, label, 2.0 * (double)k))
            goto out;
        snprintf(label, sizeof label, "square %" PRIu64 "/%" PRIu64, k + 1, o->repeat);
        cli_progress_update(&pg, label, 2.0 * (double)k + 1.0);

        double t0 = cli_now();
        err = mproc_square(pool, arr);
        double t1 = cli_now();

        if (cli_stop_signal)
            goto out;
        if (err) {
            cli_progress_finish(&pg);
            cli_error("square failed: %s", mproc_strerror(err));
            goto out;
        }
        times[k] = sorted[k] = t1 - t0;
    }
    if (o->verify) {
        err = verify(o->dtype, data, n, NULL, &pg, 2.0 * (double)o->repeat, &r.bad);
        if (err < 0)
            goto out;
        r.verified = err == 0;
    }
    cli_progress_finish(&pg);

    r.median = cli_median(sorted, o->repeat);
    r.min = sorted[0];
    r.max = sorted[o->repeat - 1];
    r.times = times;
    if (o->json)
        print_json(o, &r);
    else
        print_text(o, &r);
    status = r.verified == 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
    if (cli_stop_signal) {
        cli_progress_finish(&pg);
        cli_error("interrupted");
        status = cli_stop_status();
    }
    mproc_pool_destroy(pool);
    mproc_array_close(arr);
    free(times);
    free(sorted);
    return status;
}

int cli_square_main(int argc, char **argv)
{
    square_opts o;
    int rc = parse_args(argc, argv, &o);

    if (rc)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    cli_install_signal_handlers();
    return o.values ? run_values(&o) : run_n(&o);
}
