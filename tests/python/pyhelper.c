/*
 * pyhelper.c - the C side of the Python interop tests (test_numpy.py): small commands
 * that make, read and square named arrays through the public API.
 *
 *   pyhelper create NAME DTYPE V,V,...     a named mproc array holding the values (kept)
 *   pyhelper print NAME                    "DTYPE LENGTH V,V,..." of an mproc array
 *   pyhelper square NAME                   squares an mproc array in place with a pool
 *   pyhelper square-raw NAME DTYPE LENGTH  mproc_array_attach_raw, then the same square
 *   pyhelper unlink NAME
 *   pyhelper keep NAME 0|1                 mproc_array_set_keep on an attach of NAME
 *   pyhelper flags NAME                    "FLAGS KEEP" as mproc_segment_stat reports them
 *
 * Pools have 2 workers, both forked (caller_works = 0), and chunks of 1000 elements or
 * fewer, so that the workers attach by name and do every element. Exit 0; 1 with
 * "pyhelper: MPROC_E...: message" on stderr for a failure; 2 for usage errors.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

static int fail(const char *what, int rc)
{
    const char *name = mproc_error_name(rc);
    fprintf(stderr, "pyhelper: %s: %s: %s\n", what, name ? name : "?", mproc_strerror(rc));
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "pyhelper: usage: create NAME DTYPE V,V,... | print NAME | square NAME |"
                    " square-raw NAME DTYPE LENGTH | unlink NAME | keep NAME 0|1 | flags NAME\n");
    return 2;
}

/* Stores text as element i of dtype (integers wrap to the dtype, as a C cast does);
 * false if it does not parse. */
static bool put(mproc_dtype dt, void *buf, size_t i, const char *text)
{
    char *end;
    if (dt == MPROC_FLOAT32 || dt == MPROC_FLOAT64) {
        double v = strtod(text, &end);
        if (dt == MPROC_FLOAT32)
            ((float *)buf)[i] = (float)v;
        else
            ((double *)buf)[i] = v;
    } else {
        uint64_t v = text[0] == '-' ? (uint64_t)strtoll(text, &end, 10) : strtoull(text, &end, 10);
        switch (dt) {
        case MPROC_INT8: case MPROC_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
        case MPROC_INT16: case MPROC_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; break;
        case MPROC_INT32: case MPROC_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
        default: ((uint64_t *)buf)[i] = v; break;
        }
    }
    return end != text && (*end == '\0' || *end == ',');
}

static void print_one(mproc_dtype dt, const void *buf, size_t i)
{
    switch (dt) {
    case MPROC_INT8: printf("%d", ((const int8_t *)buf)[i]); break;
    case MPROC_UINT8: printf("%u", ((const uint8_t *)buf)[i]); break;
    case MPROC_INT16: printf("%d", ((const int16_t *)buf)[i]); break;
    case MPROC_UINT16: printf("%u", ((const uint16_t *)buf)[i]); break;
    case MPROC_INT32: printf("%" PRId32, ((const int32_t *)buf)[i]); break;
    case MPROC_UINT32: printf("%" PRIu32, ((const uint32_t *)buf)[i]); break;
    case MPROC_INT64: printf("%" PRId64, ((const int64_t *)buf)[i]); break;
    case MPROC_UINT64: printf("%" PRIu64, ((const uint64_t *)buf)[i]); break;
    case MPROC_FLOAT32: printf("%.9g", (double)((const float *)buf)[i]); break;
    default: printf("%.17g", ((const double *)buf)[i]); break;
    }
}

static int create(const char *name, const char *dtype, const char *list)
{
    mproc_dtype dt;
    int rc = mproc_dtype_parse(dtype, &dt);
    if (rc != 0)
        return fail("dtype", rc);
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    void *values = calloc(n, mproc_dtype_size(dt));
    if (values == NULL)
        return fail("values", MPROC_ENOMEM);
    const char *p = list;
    for (size_t i = 0; i < n; i++, p = strchr(p, ',') + 1) {
        if (!put(dt, values, i, p)) {
            fprintf(stderr, "pyhelper: bad value '%s'\n", p);
            free(values);
            return 2;
        }
    }
    mproc_array *a = NULL;
    rc = mproc_array_create_from(&a, name, dt, values, n);
    free(values);
    if (rc != 0)
        return fail("create", rc);
    return mproc_array_close(a) == 0 ? 0 : 1;
}

static int show(const char *name)
{
    mproc_array *a = NULL;
    int rc = mproc_array_attach(&a, name, MPROC_DTYPE_ANY);
    if (rc != 0)
        return fail("attach", rc);
    mproc_dtype dt = mproc_array_dtype(a);
    printf("%s %zu ", mproc_dtype_name(dt), mproc_array_length(a));
    for (size_t i = 0; i < mproc_array_length(a); i++) {
        if (i)
            putchar(',');
        print_one(dt, mproc_array_data(a), i);
    }
    putchar('\n');
    return mproc_array_close(a) == 0 ? 0 : 1;
}

static int square(mproc_array *a)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    o.caller_works = 0;
    size_t n = mproc_array_length(a);
    o.chunk = n / 4 > 1000 ? 1000 : n / 4 + 1; /* several chunks even for a few elements */
    mproc_pool *pool = NULL;
    int rc = mproc_pool_create(&pool, &o);
    if (rc != 0) {
        mproc_array_close(a);
        return fail("pool", rc);
    }
    rc = mproc_square(pool, a);
    int rc2 = mproc_pool_destroy(pool);
    mproc_array_close(a);
    if (rc != 0)
        return fail("square", rc);
    return rc2 == 0 ? 0 : fail("pool destroy", rc2);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "create") == 0)
        return create(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "print") == 0)
        return show(argv[2]);
    if (argc == 3 && strcmp(argv[1], "unlink") == 0) {
        int rc = mproc_array_unlink(argv[2]);
        return rc == 0 ? 0 : fail("unlink", rc);
    }
    if (argc == 3 && strcmp(argv[1], "flags") == 0) {
        mproc_segment_info s;
        int rc = mproc_segment_stat(argv[2], &s);
        if (rc != 0)
            return fail("stat", rc);
        printf("%" PRIu32 " %d\n", s.flags, s.keep);
        return 0;
    }
    mproc_array *a = NULL;
    if (argc == 4 && strcmp(argv[1], "keep") == 0 &&
        (strcmp(argv[3], "0") == 0 || strcmp(argv[3], "1") == 0)) {
        int rc = mproc_array_attach(&a, argv[2], MPROC_DTYPE_ANY);
        if (rc != 0)
            return fail("attach", rc);
        rc = mproc_array_set_keep(a, argv[3][0] == '1');
        mproc_array_close(a);
        return rc == 0 ? 0 : fail("set_keep", rc);
    }
    if (argc == 3 && strcmp(argv[1], "square") == 0) {
        int rc = mproc_array_attach(&a, argv[2], MPROC_DTYPE_ANY);
        return rc == 0 ? square(a) : fail("attach", rc);
    }
    if (argc == 5 && strcmp(argv[1], "square-raw") == 0) {
        mproc_dtype dt;
        int rc = mproc_dtype_parse(argv[3], &dt);
        if (rc != 0)
            return fail("dtype", rc);
        char *end;
        unsigned long long n = strtoull(argv[4], &end, 10);
        if (end == argv[4] || *end != '\0')
            return usage();
        rc = mproc_array_attach_raw(&a, argv[2], dt, (size_t)n);
        return rc == 0 ? square(a) : fail("attach_raw", rc);
    }
    return usage();
}
