/*
 * test_array.c - shared arrays: create / attach / close / unlink, the segment layout,
 * every validation error of attach, names, dtypes, errors and versions.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define BAD_PTR ((mproc_array *)(uintptr_t)0x1)

/* ---- small helpers ---------------------------------------------------------------------- */

/* Creates a named int32 array of n elements with a[i] = i * 3 + 1, closes it, returns 0. */
static void make_named_i32(const char *name, size_t n)
{
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, n), 0);
    int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (int32_t)(i * 3 + 1);
    tu_assert_rc(mproc_array_close(a), 0);
}

/* Header of a freshly created int32 array of 1000 elements (the array is unlinked). */
static void good_header(uint8_t hdr[TU_HDR_LEN])
{
    char name[TU_NAME_LEN];
    tu_name(name, "model");
    make_named_i32(name, 1000);
    ck_assert_int_eq(tu_shm_read(name, 0, hdr, TU_HDR_LEN), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
}

/* Creates a raw segment holding hdr followed by zeros (size bytes) and attaches it
 * expecting `expected`; checks out is NULL on failure and that the segment survives.
 * Returns the attach result; removes the segment. */
static int forge_and_attach(const uint8_t *hdr, size_t hdr_len, size_t size,
                            mproc_dtype expected)
{
    char name[TU_NAME_LEN];
    tu_name(name, "forged");
    ck_assert_int_eq(tu_shm_create_raw(name, size, hdr, hdr_len), 0);
    mproc_array *a = BAD_PTR;
    int rc = mproc_array_attach(&a, name, expected);
    if (rc != 0)
        ck_assert_msg(a == NULL, "failed attach (%s) left *out = %p, expected NULL",
                      tu_errname(rc), (void *)a);
    else
        mproc_array_close(a);
    ck_assert_msg(tu_shm_exists(name), "attach removed the segment it rejected");
    ck_assert_int_eq(tu_shm_unlink(name), 0);
    return rc;
}

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n')
            n++;
    fclose(f);
    return n;
}

/* Field 22 of /proc/self/stat: start time in clock ticks after boot. */
static uint64_t self_start_time(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    ck_assert_ptr_nonnull(p);
    p += 2; /* field 3 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    return strtoull(p, NULL, 10);
}

/* ---- version, errors -------------------------------------------------------------------- */

START_TEST(test_version)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", MPROC_VERSION_MAJOR, MPROC_VERSION_MINOR,
             MPROC_VERSION_PATCH);
    ck_assert_ptr_nonnull(mproc_version());
    ck_assert_str_eq(mproc_version(), want);
    ck_assert_str_eq(mproc_version(), MPROC_VERSION_STRING);
    ck_assert_int_eq(mproc_version_number(), MPROC_VERSION_NUMBER);
    ck_assert_int_eq(mproc_version_number(), MPROC_VERSION_MAJOR * 10000 +
                                                 MPROC_VERSION_MINOR * 100 +
                                                 MPROC_VERSION_PATCH);
}
END_TEST

START_TEST(test_strerror_every_code)
{
    int count = 0;
#define CHECK_MSG(name, value, msg)                                                            \
    do {                                                                                       \
        const char *m = mproc_strerror(value);                                                 \
        ck_assert_msg(m != NULL && m[0] != '\0', "no message for MPROC_" #name);               \
        ck_assert_msg(strcmp(m, "unknown error") != 0, "MPROC_" #name " is 'unknown error'");  \
        ck_assert_msg(strcmp(m, "success") != 0, "MPROC_" #name " is 'success'");              \
        if ((value) <= -1000)                                                                  \
            ck_assert_str_eq(m, msg);                                                          \
        ck_assert_int_eq(MPROC_##name, (value));                                               \
        ck_assert_int_lt((value), 0);                                                          \
        count++;                                                                               \
    } while (0);
    MPROC_ERROR_MAP(CHECK_MSG)
#undef CHECK_MSG
    ck_assert_int_ge(count, 20); /* the 20 of the core, and those of later sections */
    ck_assert_str_eq(mproc_strerror(0), "success");
    /* Any -errno goes through the C library. */
    const char *m = mproc_strerror(-EPIPE);
    ck_assert_msg(m != NULL && m[0] != '\0' && strcmp(m, "unknown error") != 0,
                  "no message for -EPIPE");
    /* Extreme values must not crash (e.g. negating INT_MIN). */
    ck_assert_ptr_nonnull(mproc_strerror(INT32_MIN));
    ck_assert_ptr_nonnull(mproc_strerror(INT32_MAX));
    ck_assert_ptr_nonnull(mproc_strerror(12345));
    /* mproc's own range (-1000 and below), unassigned: "unknown error" */
    ck_assert_str_eq(mproc_strerror(-1999), "unknown error");
}
END_TEST

START_TEST(test_error_names)
{
#define CHECK_NAME(name, value, msg)                                                           \
    do {                                                                                       \
        const char *n = mproc_error_name(value);                                               \
        ck_assert_msg(n != NULL, "no name for MPROC_" #name);                                  \
        ck_assert_str_eq(n, "MPROC_" #name);                                                   \
    } while (0);
    MPROC_ERROR_MAP(CHECK_NAME)
#undef CHECK_NAME
    ck_assert_ptr_null(mproc_error_name(-1999));
    ck_assert_ptr_null(mproc_error_name(-EPIPE));
    ck_assert_ptr_null(mproc_error_name(INT32_MIN));
}
END_TEST

/* ---- dtypes and ops ---------------------------------------------------------------------- */

START_TEST(test_dtype_parse_all_spellings)
{
    static const struct {
        const char *text;
        mproc_dtype want;
    } cases[] = {
        {"int8", MPROC_INT8},       {"uint8", MPROC_UINT8},     {"int16", MPROC_INT16},
        {"uint16", MPROC_UINT16},   {"int32", MPROC_INT32},     {"uint32", MPROC_UINT32},
        {"int64", MPROC_INT64},     {"uint64", MPROC_UINT64},   {"float32", MPROC_FLOAT32},
        {"float64", MPROC_FLOAT64}, {"i8", MPROC_INT8},         {"u8", MPROC_UINT8},
        {"i16", MPROC_INT16},       {"u16", MPROC_UINT16},      {"i32", MPROC_INT32},
        {"u32", MPROC_UINT32},      {"i64", MPROC_INT64},       {"u64", MPROC_UINT64},
        {"f32", MPROC_FLOAT32},     {"f64", MPROC_FLOAT64},     {"b", MPROC_INT8},
        {"B", MPROC_UINT8},         {"h", MPROC_INT16},         {"H", MPROC_UINT16},
        {"i", MPROC_INT32},         {"I", MPROC_UINT32},        {"l", MPROC_INT64},
        {"L", MPROC_UINT64},        {"q", MPROC_INT64},         {"Q", MPROC_UINT64},
        {"f", MPROC_FLOAT32},       {"d", MPROC_FLOAT64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mproc_dtype out = (mproc_dtype)77;
        int rc = mproc_dtype_parse(cases[i].text, &out);
        ck_assert_msg(rc == 0, "parse(\"%s\") = %s", cases[i].text, tu_errname(rc));
        ck_assert_msg(out == cases[i].want, "parse(\"%s\") gave %d, expected %d", cases[i].text,
                      (int)out, (int)cases[i].want);
    }
}
END_TEST

START_TEST(test_dtype_parse_errors)
{
    static const char *bad[] = {"",     "int",   "int33",  "i33",   "float16", "c",   "x",
                                "u",    "ii",    " i32",   "i32 ",  "int32\n", "bb",  "uint",
                                "i 32", "f128",  "int8x",  "float", "u1",      "e",   "g",
                                "int_32"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mproc_dtype out = MPROC_INT16;
        int rc = mproc_dtype_parse(bad[i], &out);
        ck_assert_msg(rc == MPROC_EDTYPE, "parse(\"%s\") = %d (%s), expected MPROC_EDTYPE", bad[i],
                      rc, tu_errname(rc));
        ck_assert_msg(out == MPROC_INT16, "failed parse(\"%s\") changed *out", bad[i]);
    }
    mproc_dtype out;
    tu_assert_rc(mproc_dtype_parse(NULL, &out), MPROC_EINVAL);
    tu_assert_rc(mproc_dtype_parse("int32", NULL), MPROC_EINVAL);
}
END_TEST

START_TEST(test_dtype_name_size)
{
    for (int i = 0; i < MPROC_DTYPE_COUNT; i++) {
        const tu_dtype_info *t = &tu_dtypes[i];
        ck_assert_ptr_nonnull(mproc_dtype_name(t->dtype));
        ck_assert_str_eq(mproc_dtype_name(t->dtype), t->name);
        ck_assert_uint_eq(mproc_dtype_size(t->dtype), t->size);
        mproc_dtype back;
        tu_assert_rc(mproc_dtype_parse(mproc_dtype_name(t->dtype), &back), 0);
        ck_assert_int_eq(back, t->dtype);
    }
    ck_assert_ptr_null(mproc_dtype_name(MPROC_DTYPE_ANY));
    ck_assert_ptr_null(mproc_dtype_name((mproc_dtype)11));
    ck_assert_ptr_null(mproc_dtype_name((mproc_dtype)-1));
    ck_assert_uint_eq(mproc_dtype_size(MPROC_DTYPE_ANY), 0);
    ck_assert_uint_eq(mproc_dtype_size((mproc_dtype)11), 0);
    ck_assert_uint_eq(mproc_dtype_size((mproc_dtype)-1), 0);
}
END_TEST

START_TEST(test_op_parse_name)
{
    static const char *names[] = {"square", "cube", "negate", "abs", "add", "mul"};
    for (int i = 0; i < TU_OP_COUNT; i++) {
        mproc_op op = (mproc_op)0;
        tu_assert_rc(mproc_op_parse(names[i], &op), 0);
        ck_assert_int_eq(op, tu_ops[i]);
        ck_assert_ptr_nonnull(mproc_op_name(tu_ops[i]));
        ck_assert_str_eq(mproc_op_name(tu_ops[i]), names[i]);
    }
    mproc_op op = MPROC_OP_CUBE;
    tu_assert_rc(mproc_op_parse("", &op), MPROC_EINVAL);
    tu_assert_rc(mproc_op_parse("sqr", &op), MPROC_EINVAL);
    tu_assert_rc(mproc_op_parse("square ", &op), MPROC_EINVAL);
    tu_assert_rc(mproc_op_parse("squares", &op), MPROC_EINVAL);
    ck_assert_int_eq(op, MPROC_OP_CUBE);
    tu_assert_rc(mproc_op_parse(NULL, &op), MPROC_EINVAL);
    tu_assert_rc(mproc_op_parse("square", NULL), MPROC_EINVAL);
    ck_assert_ptr_null(mproc_op_name((mproc_op)0));
    ck_assert_ptr_null(mproc_op_name((mproc_op)7));
    ck_assert_ptr_null(mproc_op_name((mproc_op)-1));
}
END_TEST

/* ---- create / attach / close / unlink ---------------------------------------------------- */

START_TEST(test_create_anonymous)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    const size_t n = 100003;
    mproc_array *a = BAD_PTR;
    tu_assert_rc(mproc_array_create(&a, NULL, t->dtype, n), 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_ne(a, BAD_PTR);
    ck_assert_uint_eq(mproc_array_length(a), n);
    ck_assert_int_eq(mproc_array_dtype(a), t->dtype);
    ck_assert_ptr_null(mproc_array_name(a));
    uint8_t *d = mproc_array_data(a);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq((uintptr_t)d % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    tu_assert_each(i, n * t->size, d[i] == 0, "byte %zu of a new array is %d, not 0", i, d[i]);
    memset(d, 0xA5, n * t->size); /* the whole range is writable */
    ck_assert_uint_eq(d[n * t->size - 1], 0xA5);
    ck_assert_int_eq(tu_shm_count_prefix(), 0);
    tu_assert_rc(mproc_array_close(a), 0);
}
END_TEST

START_TEST(test_create_named_layout)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    const size_t n = 1234;
    char name[TU_NAME_LEN];
    tu_name(name, t->short_name);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, t->dtype, n), 0);
    ck_assert_ptr_nonnull(mproc_array_name(a));
    ck_assert_str_eq(mproc_array_name(a), name);
    ck_assert_uint_eq(mproc_array_length(a), n);
    ck_assert_int_eq(mproc_array_dtype(a), t->dtype);
    ck_assert_msg(tu_shm_exists(name), "/dev/shm/%s does not exist", name);

    struct stat st;
    char path[TU_NAME_LEN + 16];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg((st.st_mode & 0777) == 0600, "mode is %o, expected 0600",
                  (unsigned)(st.st_mode & 0777));
    ck_assert_int_ge(st.st_size, (off_t)(MPROC_DATA_OFFSET + n * t->size));

    uint8_t hdr[TU_HDR_LEN];
    ck_assert_int_eq(tu_shm_read(name, 0, hdr, sizeof hdr), 0);
    ck_assert_mem_eq(hdr, "MPROCARR", 8);
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_VERSION), MPROC_FORMAT_VERSION);
    ck_assert_uint_ge(tu_get_u32(hdr, TU_OFF_HDR_BYTES), TU_HDR_LEN);
    ck_assert_uint_le(tu_get_u32(hdr, TU_OFF_HDR_BYTES), MPROC_DATA_OFFSET);
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_DTYPE), (uint32_t)t->dtype);
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_ELEM_SIZE), t->size);
    ck_assert_uint_eq(tu_get_u64(hdr, TU_OFF_LENGTH), n);
    ck_assert_uint_eq(tu_get_u64(hdr, TU_OFF_DATA_OFFSET), MPROC_DATA_OFFSET);
    ck_assert_uint_eq(tu_get_u64(hdr, TU_OFF_DATA_BYTES), n * t->size);
    ck_assert_int_eq((int64_t)tu_get_u64(hdr, TU_OFF_PID), (int64_t)getpid());
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_CHECKSUM), tu_fnv1a(hdr, TU_OFF_CHECKSUM));

    /* The data starts at the documented offset of the file. */
    uint8_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n * t->size; i++)
        d[i] = (uint8_t)(i * 7 + 3);
    uint8_t *file = malloc(n * t->size);
    ck_assert_int_eq(tu_shm_read(name, MPROC_DATA_OFFSET, file, n * t->size), 0);
    ck_assert_mem_eq(file, d, n * t->size);
    free(file);

    /* A second array gets another instance id. */
    char name2[TU_NAME_LEN];
    mproc_array *b = NULL;
    tu_assert_rc(mproc_array_create(&b, tu_name(name2, "second"), t->dtype, n), 0);
    uint8_t hdr2[TU_HDR_LEN];
    ck_assert_int_eq(tu_shm_read(name2, 0, hdr2, sizeof hdr2), 0);
    ck_assert_uint_ne(tu_get_u64(hdr, TU_OFF_INSTANCE), tu_get_u64(hdr2, TU_OFF_INSTANCE));

    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
    ck_assert_msg(tu_shm_exists(name), "close unlinked a named segment");
    tu_assert_rc(mproc_array_unlink(name), 0);
    tu_assert_rc(mproc_array_unlink(name2), 0);
    ck_assert(!tu_shm_exists(name));
    /* creator start time: /proc/PID/stat field 22 of the creating process */
    ck_assert_msg(tu_get_u64(hdr, TU_OFF_START_TIME) == self_start_time(),
                  "header start time %llu, /proc/self/stat field 22 is %llu",
                  (unsigned long long)tu_get_u64(hdr, TU_OFF_START_TIME),
                  (unsigned long long)self_start_time());
}
END_TEST

START_TEST(test_create_leading_slash)
{
    char name[TU_NAME_LEN], slashed[TU_NAME_LEN + 1];
    tu_name(name, "slash");
    snprintf(slashed, sizeof slashed, "/%s", name);
    mproc_array *a = NULL, *b = NULL, *c = NULL;
    tu_assert_rc(mproc_array_create(&a, slashed, MPROC_UINT16, 10), 0);
    ck_assert_str_eq(mproc_array_name(a), name);
    ck_assert(tu_shm_exists(name));
    ((uint16_t *)mproc_array_data(a))[9] = 4242;
    tu_assert_rc(mproc_array_attach(&b, name, MPROC_UINT16), 0);
    tu_assert_rc(mproc_array_attach(&c, slashed, MPROC_UINT16), 0);
    ck_assert_str_eq(mproc_array_name(b), name);
    ck_assert_str_eq(mproc_array_name(c), name);
    ck_assert_uint_eq(((uint16_t *)mproc_array_data(b))[9], 4242);
    ck_assert_uint_eq(((uint16_t *)mproc_array_data(c))[9], 4242);
    /* Both spellings name the same segment. */
    mproc_array *d = BAD_PTR;
    tu_assert_rc(mproc_array_create(&d, name, MPROC_UINT16, 10), MPROC_EEXIST);
    ck_assert_ptr_null(d);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_close(c), 0);
    tu_assert_rc(mproc_array_unlink(slashed), 0);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

START_TEST(test_create_from)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    const size_t n = 4099;
    uint8_t *values = malloc(n * t->size);
    tu_fill_random(t->dtype, values, n, 17 + (uint64_t)_i);
    uint8_t *copy = malloc(n * t->size);
    memcpy(copy, values, n * t->size);

    mproc_array *a = NULL, *b = NULL, *c = NULL;
    tu_assert_rc(mproc_array_create_from(&a, NULL, t->dtype, values, n), 0);
    ck_assert_uint_eq(mproc_array_length(a), n);
    ck_assert_int_eq(mproc_array_dtype(a), t->dtype);
    ck_assert_mem_eq(mproc_array_data(a), values, n * t->size);
    ck_assert_ptr_ne(mproc_array_data(a), values);
    ck_assert_mem_eq(values, copy, n * t->size); /* source untouched */

    char name[TU_NAME_LEN];
    tu_assert_rc(mproc_array_create_from(&b, tu_name(name, "from"), t->dtype, values, n), 0);
    tu_assert_rc(mproc_array_attach(&c, name, t->dtype), 0);
    ck_assert_mem_eq(mproc_array_data(c), values, n * t->size);
    /* A copy, not a view of values. */
    memset(values, 0, n * t->size);
    ck_assert_mem_eq(mproc_array_data(c), copy, n * t->size);

    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_close(c), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    free(values);
    free(copy);
}
END_TEST

START_TEST(test_create_from_seed_program)
{
    const int32_t seed[7] = {2, 3, 4, 5, 6, 7, 8};
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create_from(&a, NULL, MPROC_INT32, seed, 7), 0);
    ck_assert_mem_eq(mproc_array_data(a), seed, sizeof seed);
    tu_assert_rc(mproc_array_close(a), 0);
}
END_TEST

START_TEST(test_create_from_errors)
{
    mproc_array *a = BAD_PTR, *a1 = BAD_PTR, *a2 = BAD_PTR;
    char name[TU_NAME_LEN];
    tu_name(name, "fromerr");
    tu_assert_rc(mproc_array_create_from(&a1, NULL, MPROC_INT32, NULL, 5), MPROC_EINVAL);
    tu_assert_rc(mproc_array_create_from(&a2, name, MPROC_INT32, NULL, 5), MPROC_EINVAL);
    ck_assert(!tu_shm_exists(name));
    int32_t v[2] = {1, 2};
    tu_assert_rc(mproc_array_create_from(NULL, NULL, MPROC_INT32, v, 2), MPROC_EINVAL);
    tu_assert_rc(mproc_array_create_from(NULL, name, MPROC_INT32, v, 2), MPROC_EINVAL);
    ck_assert(!tu_shm_exists(name));
    a = BAD_PTR;
    tu_assert_rc(mproc_array_create_from(&a, name, (mproc_dtype)42, v, 2), MPROC_EDTYPE);
    ck_assert_ptr_null(a);
    ck_assert(!tu_shm_exists(name));
    /* length 0 with NULL values is fine */
    tu_assert_rc(mproc_array_create_from(&a, NULL, MPROC_INT32, NULL, 0), 0);
    ck_assert_uint_eq(mproc_array_length(a), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_create_from(&a, name, MPROC_FLOAT64, NULL, 0), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    /* a constructor sets *out to NULL on failure, whatever the failure */
    ck_assert_msg(a1 == NULL, "create_from(values NULL, length 5) failed but left *out = %p",
                  (void *)a1);
    ck_assert_msg(a2 == NULL, "create_from(named, values NULL, length 5) left *out = %p",
                  (void *)a2);
}
END_TEST

START_TEST(test_accessors_null)
{
    ck_assert_ptr_null(mproc_array_data(NULL));
    ck_assert_uint_eq(mproc_array_length(NULL), 0);
    ck_assert_int_eq(mproc_array_dtype(NULL), MPROC_DTYPE_ANY);
    ck_assert_ptr_null(mproc_array_name(NULL));
    tu_assert_rc(mproc_array_close(NULL), 0);
}
END_TEST

START_TEST(test_attach_roundtrip)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    const size_t n = 5000;
    char name[TU_NAME_LEN];
    tu_name(name, t->short_name);
    mproc_array *a = NULL, *b = BAD_PTR, *c = NULL;
    tu_assert_rc(mproc_array_create(&a, name, t->dtype, n), 0);
    uint8_t *vals = malloc(n * t->size);
    tu_fill_random(t->dtype, vals, n, 99);
    memcpy(mproc_array_data(a), vals, n * t->size);

    tu_assert_rc(mproc_array_attach(&b, name, MPROC_DTYPE_ANY), 0);
    tu_assert_rc(mproc_array_attach(&c, name, t->dtype), 0);
    ck_assert_uint_eq(mproc_array_length(b), n);
    ck_assert_int_eq(mproc_array_dtype(b), t->dtype);
    ck_assert_str_eq(mproc_array_name(b), name);
    ck_assert_mem_eq(mproc_array_data(b), vals, n * t->size);
    ck_assert_mem_eq(mproc_array_data(c), vals, n * t->size);
    ck_assert_uint_eq((uintptr_t)mproc_array_data(b) % (uintptr_t)sysconf(_SC_PAGESIZE), 0);

    /* Writes through one mapping are seen through the others. */
    uint8_t *db = mproc_array_data(b);
    db[0] ^= 0xFF;
    db[n * t->size - 1] ^= 0x5A;
    ck_assert_uint_eq(((uint8_t *)mproc_array_data(a))[0], (uint8_t)(vals[0] ^ 0xFF));
    ck_assert_uint_eq(((uint8_t *)mproc_array_data(c))[n * t->size - 1],
                      (uint8_t)(vals[n * t->size - 1] ^ 0x5A));

    /* Closing one handle leaves the others working. */
    tu_assert_rc(mproc_array_close(a), 0);
    ck_assert_uint_eq(((uint8_t *)mproc_array_data(c))[0], (uint8_t)(vals[0] ^ 0xFF));
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_close(c), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    free(vals);
}
END_TEST

START_TEST(test_fork_named_sharing)
{
    const size_t n = 100000;
    char name[TU_NAME_LEN];
    tu_name(name, "forkshare");
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT64, n), 0);
    int64_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (int64_t)i * 5 - 7;

    int to_child[2], to_parent[2];
    ck_assert_int_eq(pipe(to_child), 0);
    ck_assert_int_eq(pipe(to_parent), 0);
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Child: attach by name, check the parent's values, write new ones, then check
         * a write the parent makes after that. No ck_assert here: exit codes. */
        char c = 0;
        mproc_array *b = NULL;
        if (mproc_array_attach(&b, name, MPROC_INT64) != 0)
            _exit(10);
        if (mproc_array_length(b) != n)
            _exit(11);
        int64_t *e = mproc_array_data(b);
        for (size_t i = 0; i < n; i++)
            if (e[i] != (int64_t)i * 5 - 7)
                _exit(12);
        for (size_t i = 0; i < n; i++)
            e[i] = -(int64_t)i;
        if (write(to_parent[1], "w", 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(13);
        if (e[n / 2] != 424242 || e[0] != -1)
            _exit(14);
        mproc_array_close(b);
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    char c = 0;
    ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
    tu_assert_each(i, n, d[i] == -(int64_t)i, "parent does not see the child's write at %zu", i);
    d[n / 2] = 424242;
    d[0] = -1;
    ck_assert_int_eq(write(to_child[1], "p", 1), 1);
    tu_assert_child_ok(pid, 10);
    close(to_child[1]);
    close(to_parent[0]);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

START_TEST(test_fork_anonymous_sharing)
{
    const size_t n = 50000;
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_UINT32, n), 0);
    uint32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint32_t)i;
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (size_t i = 0; i < n; i++) {
            if (d[i] != (uint32_t)i)
                _exit(1);
            d[i] = (uint32_t)i * 2u + 1u;
        }
        _exit(0);
    }
    tu_assert_child_ok(pid, 10);
    tu_assert_each(i, n, d[i] == (uint32_t)i * 2u + 1u,
                      "an anonymous array is not shared with a forked child (element %zu)", i);
    tu_assert_rc(mproc_array_close(a), 0);
}
END_TEST

START_TEST(test_unlink)
{
    char name[TU_NAME_LEN];
    tu_name(name, "unlink");
    mproc_array *a = NULL, *b = BAD_PTR;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_FLOAT32, 100), 0);
    ((float *)mproc_array_data(a))[99] = 2.5f;
    tu_assert_rc(mproc_array_unlink(name), 0);
    ck_assert(!tu_shm_exists(name));
    tu_assert_rc(mproc_array_attach(&b, name, MPROC_DTYPE_ANY), MPROC_ENOENT);
    ck_assert_ptr_null(b);
    /* The mapping survives the name. */
    ck_assert(((float *)mproc_array_data(a))[99] == 2.5f);
    ((float *)mproc_array_data(a))[0] = 1.0f;
    tu_assert_rc(mproc_array_unlink(name), MPROC_ENOENT);
    /* The name is free again. */
    tu_assert_rc(mproc_array_create(&b, name, MPROC_FLOAT32, 100), 0);
    ck_assert(((float *)mproc_array_data(b))[99] == 0.0f);
    ck_assert(((float *)mproc_array_data(a))[99] == 2.5f);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    tu_assert_rc(mproc_array_unlink(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_array_unlink(""), MPROC_ENAME);
    tu_assert_rc(mproc_array_unlink("a/b"), MPROC_ENAME);
    tu_assert_rc(mproc_array_unlink("a b"), MPROC_ENAME);
}
END_TEST

START_TEST(test_zero_length)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    mproc_array *a = BAD_PTR, *b = BAD_PTR;
    tu_assert_rc(mproc_array_create(&a, NULL, t->dtype, 0), 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_ne(a, BAD_PTR);
    ck_assert_uint_eq(mproc_array_length(a), 0);
    ck_assert_int_eq(mproc_array_dtype(a), t->dtype);
    tu_assert_rc(mproc_array_close(a), 0);

    char name[TU_NAME_LEN];
    tu_name(name, "zero");
    tu_assert_rc(mproc_array_create(&a, name, t->dtype, 0), 0);
    ck_assert_uint_eq(mproc_array_length(a), 0);
    tu_assert_rc(mproc_array_attach(&b, name, t->dtype), 0);
    ck_assert_uint_eq(mproc_array_length(b), 0);
    ck_assert_int_eq(mproc_array_dtype(b), t->dtype);
    uint8_t hdr[TU_HDR_LEN];
    ck_assert_int_eq(tu_shm_read(name, 0, hdr, sizeof hdr), 0);
    ck_assert_uint_eq(tu_get_u64(hdr, TU_OFF_LENGTH), 0);
    ck_assert_uint_eq(tu_get_u64(hdr, TU_OFF_DATA_BYTES), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

START_TEST(test_many_arrays_no_leak)
{
    /* Warm up whatever the library allocates once. */
    mproc_array *a = NULL, *b = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT8, 10), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    int fds = tu_count_fds(), maps = count_maps();
    char name[TU_NAME_LEN];
    for (int i = 0; i < 200; i++) {
        tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT32, 1000 + (size_t)i), 0);
        tu_assert_rc(mproc_array_close(a), 0);
        tu_assert_rc(mproc_array_create(&a, tu_name(name, "many"), MPROC_INT32, 1000), 0);
        tu_assert_rc(mproc_array_attach(&b, name, MPROC_INT32), 0);
        tu_assert_rc(mproc_array_close(a), 0);
        tu_assert_rc(mproc_array_close(b), 0);
        tu_assert_rc(mproc_array_unlink(name), 0);
        /* failures too */
        tu_assert_rc(mproc_array_attach(&b, name, MPROC_INT32), MPROC_ENOENT);
    }
    ck_assert_int_eq(tu_count_fds(), fds);
    /* (a little slack: sanitizer allocators map memory lazily) */
    ck_assert_int_le(count_maps(), maps + 8);
}
END_TEST

/* ---- names ------------------------------------------------------------------------------ */

START_TEST(test_missing_name)
{
    char name[TU_NAME_LEN];
    tu_name(name, "missing");
    mproc_array *a = BAD_PTR;
    tu_assert_rc(mproc_array_attach(&a, name, MPROC_DTYPE_ANY), MPROC_ENOENT);
    ck_assert_ptr_null(a);
    a = BAD_PTR;
    tu_assert_rc(mproc_array_attach(&a, name, MPROC_INT32), MPROC_ENOENT);
    ck_assert_ptr_null(a);
    ck_assert(!tu_shm_exists(name));
    tu_assert_rc(mproc_array_unlink(name), MPROC_ENOENT);
}
END_TEST

START_TEST(test_name_taken)
{
    char name[TU_NAME_LEN];
    tu_name(name, "taken");
    mproc_array *a = NULL, *b = BAD_PTR;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, 100), 0);
    int32_t *d = mproc_array_data(a);
    for (int i = 0; i < 100; i++)
        d[i] = i + 1;
    tu_assert_rc(mproc_array_create(&b, name, MPROC_INT32, 100), MPROC_EEXIST);
    ck_assert_ptr_null(b);
    b = BAD_PTR;
    tu_assert_rc(mproc_array_create(&b, name, MPROC_UINT8, 7), MPROC_EEXIST);
    ck_assert_ptr_null(b);
    int32_t v[3] = {1, 2, 3};
    b = BAD_PTR;
    tu_assert_rc(mproc_array_create_from(&b, name, MPROC_INT32, v, 3), MPROC_EEXIST);
    ck_assert_ptr_null(b);
    /* The existing segment is untouched: still there, same values, same header. */
    ck_assert(tu_shm_exists(name));
    tu_assert_each(i, 100, d[i] == (int32_t)i + 1, "element %zu changed", i);
    tu_assert_rc(mproc_array_attach(&b, name, MPROC_INT32), 0);
    ck_assert_uint_eq(mproc_array_length(b), 100);
    ck_assert_int_eq(((int32_t *)mproc_array_data(b))[99], 100);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);

    /* A foreign file with that name also counts as taken, and is left alone. */
    ck_assert_int_eq(tu_shm_create_raw(name, 123, "foreign", 7), 0);
    b = BAD_PTR;
    tu_assert_rc(mproc_array_create(&b, name, MPROC_INT32, 100), MPROC_EEXIST);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(tu_shm_size(name), 123);
    char buf[8] = "";
    ck_assert_int_eq(tu_shm_read(name, 0, buf, 7), 0);
    ck_assert_mem_eq(buf, "foreign", 7);
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

START_TEST(test_invalid_names)
{
    char too_long[MPROC_NAME_MAX + 3];
    memset(too_long, 'x', MPROC_NAME_MAX + 1);
    too_long[MPROC_NAME_MAX + 1] = '\0';
    char slash_too_long[MPROC_NAME_MAX + 4];
    snprintf(slash_too_long, sizeof slash_too_long, "/%s", too_long);
    char pre[TU_NAME_LEN], inner_slash[TU_NAME_LEN + 8], with_space[TU_NAME_LEN + 8],
        double_slash[TU_NAME_LEN + 8], trailing_slash[TU_NAME_LEN + 8];
    tu_name(pre, "bad");
    snprintf(inner_slash, sizeof inner_slash, "%s/x", pre);
    snprintf(with_space, sizeof with_space, "%s x", pre);
    snprintf(double_slash, sizeof double_slash, "//%s", pre);
    snprintf(trailing_slash, sizeof trailing_slash, "%s/", pre);
    const char *bad[] = {"",          "/",          too_long,       slash_too_long,
                         inner_slash, with_space,   double_slash,   trailing_slash,
                         "a b",       "tab\tname",  "new\nline",    "caf\xc3\xa9",
                         "star*",     "q?",         "dollar$",      "back\\slash",
                         "colon:x",   "semi;x",     "~tilde",       "perc%d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mproc_array *a = BAD_PTR;
        int rc = mproc_array_create(&a, bad[i], MPROC_INT32, 10);
        ck_assert_msg(rc == MPROC_ENAME, "create(\"%s\") = %d (%s), expected MPROC_ENAME", bad[i],
                      rc, tu_errname(rc));
        ck_assert_ptr_null(a);
        a = BAD_PTR;
        rc = mproc_array_attach(&a, bad[i], MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ENAME, "attach(\"%s\") = %d (%s), expected MPROC_ENAME", bad[i],
                      rc, tu_errname(rc));
        ck_assert_ptr_null(a);
        rc = mproc_array_unlink(bad[i]);
        ck_assert_msg(rc == MPROC_ENAME, "unlink(\"%s\") = %d (%s), expected MPROC_ENAME", bad[i],
                      rc, tu_errname(rc));
        int8_t v = 1;
        a = BAD_PTR;
        rc = mproc_array_create_from(&a, bad[i], MPROC_INT8, &v, 1);
        ck_assert_msg(rc == MPROC_ENAME, "create_from(\"%s\") = %d (%s)", bad[i], rc,
                      tu_errname(rc));
        ck_assert_ptr_null(a);
    }
    /* "." and ".." consist of allowed characters but are directories: never an array. */
    const char *dots[] = {".", "..", "/.", "/.."};
    for (size_t i = 0; i < 4; i++) {
        mproc_array *a = BAD_PTR;
        int rc = mproc_array_create(&a, dots[i], MPROC_INT32, 10);
        ck_assert_msg(rc < 0, "create(\"%s\") succeeded", dots[i]);
        ck_assert_ptr_null(a);
        a = BAD_PTR;
        rc = mproc_array_attach(&a, dots[i], MPROC_DTYPE_ANY);
        ck_assert_msg(rc < 0, "attach(\"%s\") succeeded", dots[i]);
        ck_assert_ptr_null(a);
    }
    ck_assert_int_eq(tu_shm_count_prefix(), 0);
}
END_TEST

START_TEST(test_name_max)
{
    /* Exactly MPROC_NAME_MAX characters (after our prefix), with and without '/'. */
    char name[MPROC_NAME_MAX + 2], slashed[MPROC_NAME_MAX + 3];
    char pre[TU_NAME_LEN];
    tu_name(pre, "max-");
    size_t plen = strlen(pre);
    ck_assert_uint_lt(plen, MPROC_NAME_MAX);
    memcpy(name, pre, plen);
    for (size_t i = plen; i < MPROC_NAME_MAX; i++)
        name[i] = "Az09._-"[i % 7];
    name[MPROC_NAME_MAX] = '\0';
    ck_assert_uint_eq(strlen(name), MPROC_NAME_MAX);
    mproc_array *a = NULL, *b = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT8, 3), 0);
    ck_assert_str_eq(mproc_array_name(a), name);
    snprintf(slashed, sizeof slashed, "/%s", name);
    tu_assert_rc(mproc_array_attach(&b, slashed, MPROC_INT8), 0);
    ck_assert_str_eq(mproc_array_name(b), name);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_unlink(slashed), 0);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

/* ---- argument errors ---------------------------------------------------------------------- */

START_TEST(test_null_pointers)
{
    char name[TU_NAME_LEN];
    tu_name(name, "null");
    tu_assert_rc(mproc_array_create(NULL, NULL, MPROC_INT32, 10), MPROC_EINVAL);
    tu_assert_rc(mproc_array_create(NULL, name, MPROC_INT32, 10), MPROC_EINVAL);
    ck_assert(!tu_shm_exists(name));
    make_named_i32(name, 10);
    tu_assert_rc(mproc_array_attach(NULL, name, MPROC_INT32), MPROC_EINVAL);
    mproc_array *a = BAD_PTR;
    tu_assert_rc(mproc_array_attach(&a, NULL, MPROC_INT32), MPROC_EINVAL);
    ck_assert_ptr_null(a);
    tu_assert_rc(mproc_array_unlink(NULL), MPROC_EINVAL);
    ck_assert(tu_shm_exists(name));
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

START_TEST(test_unknown_dtype)
{
    const mproc_dtype bad[] = {MPROC_DTYPE_ANY, (mproc_dtype)11, (mproc_dtype)-1,
                               (mproc_dtype)1000};
    char name[TU_NAME_LEN];
    tu_name(name, "dtype");
    for (size_t i = 0; i < 4; i++) {
        mproc_array *a = BAD_PTR;
        tu_assert_rc(mproc_array_create(&a, NULL, bad[i], 10), MPROC_EDTYPE);
        ck_assert_ptr_null(a);
        a = BAD_PTR;
        tu_assert_rc(mproc_array_create(&a, name, bad[i], 10), MPROC_EDTYPE);
        ck_assert_ptr_null(a);
        ck_assert(!tu_shm_exists(name));
        a = BAD_PTR;
        tu_assert_rc(mproc_array_create(&a, name, bad[i], 0), MPROC_EDTYPE);
        ck_assert_ptr_null(a);
        ck_assert(!tu_shm_exists(name));
    }
}
END_TEST

START_TEST(test_size_overflow)
{
    static const struct {
        mproc_dtype dtype;
        size_t length;
    } cases[] = {
        {MPROC_INT32, SIZE_MAX / 2},      {MPROC_INT32, SIZE_MAX},
        {MPROC_FLOAT64, SIZE_MAX / 8 + 1}, {MPROC_INT16, SIZE_MAX / 2 + 1},
        {MPROC_UINT8, SIZE_MAX},           {MPROC_UINT8, SIZE_MAX - 100},
        {MPROC_INT64, SIZE_MAX / 4},       {MPROC_UINT64, (SIZE_MAX / 8) - 1},
    };
    char name[TU_NAME_LEN];
    tu_name(name, "overflow");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mproc_array *a = BAD_PTR;
        int rc = mproc_array_create(&a, NULL, cases[i].dtype, cases[i].length);
        ck_assert_msg(rc == MPROC_EOVERFLOW, "case %zu: create(anonymous, %zu) = %d (%s)", i,
                      cases[i].length, rc, tu_errname(rc));
        ck_assert_ptr_null(a);
        a = BAD_PTR;
        rc = mproc_array_create(&a, name, cases[i].dtype, cases[i].length);
        ck_assert_msg(rc == MPROC_EOVERFLOW, "case %zu: create(named, %zu) = %d (%s)", i,
                      cases[i].length, rc, tu_errname(rc));
        ck_assert_ptr_null(a);
        ck_assert_msg(!tu_shm_exists(name), "a failed create left /dev/shm/%s", name);
        /* create_from checks the size before it reads values */
        uint8_t one = 0;
        a = BAD_PTR;
        rc = mproc_array_create_from(&a, name, cases[i].dtype, &one, cases[i].length);
        ck_assert_msg(rc == MPROC_EOVERFLOW, "case %zu: create_from = %d (%s)", i, rc,
                      tu_errname(rc));
        ck_assert(!tu_shm_exists(name));
    }
    /* Fits size_t but not off_t or any /dev/shm: must fail cleanly, whatever the code. */
    mproc_array *a = BAD_PTR;
    int rc = mproc_array_create(&a, name, MPROC_UINT8, (size_t)1 << 63);
    ck_assert_msg(rc == MPROC_EOVERFLOW || rc == MPROC_ENOSPC || rc == MPROC_ENOMEM ||
                      rc == -EFBIG,
                  "create of 2^63 bytes: %d (%s)", rc, tu_errname(rc));
    ck_assert_ptr_null(a);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

/* In a private mount namespace with a small tmpfs on /dev/shm (needs root), a named array
 * that does not fit fails at creation with MPROC_ENOSPC, and gives back what it took. */
static bool small_dev_shm(void)
{
    if (unshare(CLONE_NEWNS) != 0)
        return false;
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return false;
    return mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m,mode=1777") == 0;
}

START_TEST(test_enospc)
{
    char name[TU_NAME_LEN], name2[TU_NAME_LEN];
    tu_name(name, "nospc");
    tu_name(name2, "fits");
    if (!small_dev_shm()) {
        /* Fallback: more than the whole of /dev/shm (which may also exceed memory). */
        struct statvfs sv;
        ck_assert_int_eq(statvfs("/dev/shm", &sv), 0);
        if (sv.f_blocks == 0)
            return; /* unlimited tmpfs */
        size_t total = (size_t)sv.f_blocks * (size_t)sv.f_frsize;
        mproc_array *a = BAD_PTR;
        int rc = mproc_array_create(&a, name, MPROC_UINT8, total + ((size_t)64 << 20));
        ck_assert_msg(rc == MPROC_ENOSPC || rc == MPROC_ENOMEM,
                      "create larger than /dev/shm: %d (%s)", rc, tu_errname(rc));
        ck_assert_ptr_null(a);
        ck_assert(!tu_shm_exists(name));
        return;
    }
    struct statvfs before, after;
    ck_assert_int_eq(statvfs("/dev/shm", &before), 0);
    mproc_array *a = BAD_PTR, *b = NULL;
    int rc = mproc_array_create(&a, name, MPROC_INT32, 1000000); /* 4 MB on 1 MB */
    ck_assert_msg(rc == MPROC_ENOSPC, "4 MB array on a 1 MB /dev/shm: %d (%s)", rc,
                  tu_errname(rc));
    ck_assert_ptr_null(a);
    ck_assert(!tu_shm_exists(name));
    ck_assert_int_eq(statvfs("/dev/shm", &after), 0);
    ck_assert_uint_eq(after.f_bfree, before.f_bfree);
    /* one that fits, then one that does not fit in what is left */
    tu_assert_rc(mproc_array_create(&b, name2, MPROC_UINT8, 600000), 0);
    memset(mproc_array_data(b), 1, 600000);
    ck_assert_int_eq(statvfs("/dev/shm", &before), 0);
    a = BAD_PTR;
    rc = mproc_array_create(&a, name, MPROC_UINT8, 600000);
    ck_assert_msg(rc == MPROC_ENOSPC, "second 600 KB array on a 1 MB /dev/shm: %d (%s)", rc,
                  tu_errname(rc));
    ck_assert_ptr_null(a);
    ck_assert(!tu_shm_exists(name));
    ck_assert_int_eq(statvfs("/dev/shm", &after), 0);
    ck_assert_uint_eq(after.f_bfree, before.f_bfree);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_unlink(name2), 0);
}
END_TEST

/* ---- validation of attach ------------------------------------------------------------------ */

START_TEST(test_truncated_small_raw)
{
    uint8_t hdr[TU_HDR_LEN];
    good_header(hdr);
    /* Segments shorter than a page that start like an mproc header (at least the magic):
     * truncated. */
    const size_t sizes[] = {8, 12, 16, 40, 79, 80, 100, 2048, 4095};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t sz = sizes[i];
        int rc = forge_and_attach(hdr, sz < TU_HDR_LEN ? sz : TU_HDR_LEN, sz, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ETRUNCATED,
                      "segment of %zu bytes (valid header start): %d (%s), expected "
                      "MPROC_ETRUNCATED",
                      sz, rc, tu_errname(rc));
        rc = forge_and_attach(hdr, sz < TU_HDR_LEN ? sz : TU_HDR_LEN, sz, MPROC_INT32);
        ck_assert_msg(rc == MPROC_ETRUNCATED, "segment of %zu bytes, expecting int32: %d (%s)",
                      sz, rc, tu_errname(rc));
    }
    /* An empty segment is truncated. */
    tu_assert_rc(forge_and_attach(NULL, 0, 0, MPROC_DTYPE_ANY), MPROC_ETRUNCATED);
    /* Too short to hold even the magic, or zeros: truncated or not-an-mproc-segment are
     * both fair, but never success (and never a crash). */
    const size_t tiny[] = {1, 2, 7, 100, 4095};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        int rc = forge_and_attach(hdr, tiny[i] < 8 ? tiny[i] : 0, tiny[i], MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ETRUNCATED || rc == MPROC_EBADMAGIC,
                      "segment of %zu bytes: %d (%s), expected ETRUNCATED or EBADMAGIC", tiny[i],
                      rc, tu_errname(rc));
    }
}
END_TEST

START_TEST(test_truncated_short_data)
{
    const size_t n = 1000; /* int32: 4000 bytes of data after the header page */
    const off_t sizes[] = {MPROC_DATA_OFFSET + 4000 - 1, MPROC_DATA_OFFSET + 4000 - 4,
                           MPROC_DATA_OFFSET + 1, MPROC_DATA_OFFSET, MPROC_DATA_OFFSET - 1,
                           100, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[TU_NAME_LEN];
        tu_name(name, "short");
        make_named_i32(name, n);
        ck_assert_int_eq(tu_shm_truncate(name, sizes[i]), 0);
        mproc_array *a = BAD_PTR;
        int rc = mproc_array_attach(&a, name, MPROC_INT32);
        ck_assert_msg(rc == MPROC_ETRUNCATED,
                      "array of 1000 int32 truncated to %ld bytes: %d (%s), expected "
                      "MPROC_ETRUNCATED",
                      (long)sizes[i], rc, tu_errname(rc));
        ck_assert_ptr_null(a);
        ck_assert(tu_shm_exists(name));
        tu_assert_rc(mproc_array_unlink(name), 0);
    }
    /* The untruncated one attaches (control). */
    char name[TU_NAME_LEN];
    tu_name(name, "short-ok");
    make_named_i32(name, n);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach(&a, name, MPROC_INT32), 0);
    ck_assert_int_eq(((int32_t *)mproc_array_data(a))[999], 999 * 3 + 1);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

START_TEST(test_forged_good_header_attaches)
{
    /* Control for the forgeries below: a copy of a good header over zeros attaches. */
    uint8_t hdr[TU_HDR_LEN];
    good_header(hdr);
    ck_assert_int_eq(forge_and_attach(hdr, sizeof hdr, MPROC_DATA_OFFSET + 4000, MPROC_INT32),
                     0);
    ck_assert_int_eq(forge_and_attach(hdr, sizeof hdr, MPROC_DATA_OFFSET + 8192, MPROC_INT32),
                     0);
}
END_TEST

START_TEST(test_bad_magic)
{
    uint8_t hdr[TU_HDR_LEN];
    good_header(hdr);
    const size_t size = MPROC_DATA_OFFSET + 4000;
    const char *magics[] = {"MPROCARX", "mprocarr", "XPROCARR", "\0\0\0\0\0\0\0\0"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t h[TU_HDR_LEN];
        memcpy(h, hdr, sizeof h);
        memcpy(h, magics[i], 8);
        tu_fix_checksum(h);
        int rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_EBADMAGIC, "magic %zu: %d (%s), expected MPROC_EBADMAGIC", i,
                      rc, tu_errname(rc));
        /* with a checksum that does not match either: still "not ours" */
        memcpy(h, hdr, sizeof h);
        memcpy(h, magics[i], 8);
        rc = forge_and_attach(h, sizeof h, size, MPROC_INT32);
        ck_assert_msg(rc == MPROC_EBADMAGIC, "magic %zu, stale checksum: %d (%s)", i, rc,
                      tu_errname(rc));
    }
    /* Foreign segments: zeros, text, random bytes (e.g. a Python SharedMemory). */
    ck_assert_int_eq(forge_and_attach(NULL, 0, 65536, MPROC_DTYPE_ANY), MPROC_EBADMAGIC);
    ck_assert_int_eq(forge_and_attach((const uint8_t *)"hello, world", 12, 10000,
                                      MPROC_DTYPE_ANY),
                     MPROC_EBADMAGIC);
    uint8_t noise[4096];
    uint64_t st = 5;
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)tu_rand(&st);
    ck_assert_int_eq(forge_and_attach(noise, sizeof noise, 3 * 4096, MPROC_DTYPE_ANY),
                     MPROC_EBADMAGIC);
}
END_TEST

START_TEST(test_bad_version)
{
    uint8_t hdr[TU_HDR_LEN];
    good_header(hdr);
    const uint32_t versions[] = {0, 2, 3, 0x100, 0x01000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        uint8_t h[TU_HDR_LEN];
        memcpy(h, hdr, sizeof h);
        tu_put_u32(h, TU_OFF_VERSION, versions[i]);
        tu_fix_checksum(h);
        int rc = forge_and_attach(h, sizeof h, MPROC_DATA_OFFSET + 4000, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_EVERSION, "version %u: %d (%s), expected MPROC_EVERSION",
                      versions[i], rc, tu_errname(rc));
    }
}
END_TEST

START_TEST(test_bad_checksum)
{
    uint8_t hdr[TU_HDR_LEN];
    good_header(hdr);
    const size_t size = MPROC_DATA_OFFSET + 4000;
    uint8_t h[TU_HDR_LEN];
    /* checksum field changed */
    memcpy(h, hdr, sizeof h);
    tu_put_u32(h, TU_OFF_CHECKSUM, tu_get_u32(hdr, TU_OFF_CHECKSUM) ^ 1u);
    tu_assert_rc(forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY), MPROC_ECORRUPT);
    tu_put_u32(h, TU_OFF_CHECKSUM, 0);
    tu_assert_rc(forge_and_attach(h, sizeof h, size, MPROC_INT32), MPROC_ECORRUPT);
    /* covered fields changed without updating the checksum */
    /* (length 1000 -> 992 and data bytes 4000 -> 3968: smaller, so never "truncated") */
    static const struct {
        size_t off;
        uint8_t mask;
    } flips[] = {{TU_OFF_HDR_BYTES, 0x01}, {TU_OFF_LENGTH, 0x08},     {TU_OFF_INSTANCE, 0x01},
                 {TU_OFF_PID, 0x01},       {TU_OFF_START_TIME, 0x01}, {TU_OFF_FLAGS, 0x01},
                 {TU_OFF_DATA_BYTES, 0x20}};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(h, hdr, sizeof h);
        h[flips[i].off] ^= flips[i].mask;
        int rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ECORRUPT,
                      "byte %zu flipped, checksum stale: %d (%s), expected MPROC_ECORRUPT",
                      flips[i].off, rc, tu_errname(rc));
    }
}
END_TEST

START_TEST(test_corrupt_fields)
{
    uint8_t hdr[TU_HDR_LEN];
    good_header(hdr);
    /* int32 x 1000, in a segment larger than needed so that only the field is wrong */
    const size_t size = 4 * MPROC_DATA_OFFSET + 4000;
    static const struct {
        const char *what;
        size_t off;
        int width;
        uint64_t value;
    } cases[] = {
        {"element size 8 for int32", TU_OFF_ELEM_SIZE, 32, 8},
        {"element size 0", TU_OFF_ELEM_SIZE, 32, 0},
        {"element size 2", TU_OFF_ELEM_SIZE, 32, 2},
        {"element size huge", TU_OFF_ELEM_SIZE, 32, 0x80000000u},
        {"data offset 100 (inside header)", TU_OFF_DATA_OFFSET, 64, 100},
        {"data offset 0", TU_OFF_DATA_OFFSET, 64, 0},
        {"data offset 2048", TU_OFF_DATA_OFFSET, 64, 2048},
        {"data offset 4097 (unaligned)", TU_OFF_DATA_OFFSET, 64, 4097},
        {"data bytes less than length x size", TU_OFF_DATA_BYTES, 64, 3996},
        {"data bytes 0", TU_OFF_DATA_BYTES, 64, 0},
        {"data bytes 1", TU_OFF_DATA_BYTES, 64, 1},
        {"length 999 for 4000 data bytes", TU_OFF_LENGTH, 64, 999},
        {"length 1 for 4000 data bytes", TU_OFF_LENGTH, 64, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t h[TU_HDR_LEN];
        memcpy(h, hdr, sizeof h);
        if (cases[i].width == 32)
            tu_put_u32(h, cases[i].off, (uint32_t)cases[i].value);
        else
            tu_put_u64(h, cases[i].off, cases[i].value);
        tu_fix_checksum(h);
        int rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ECORRUPT, "%s: %d (%s), expected MPROC_ECORRUPT",
                      cases[i].what, rc, tu_errname(rc));
    }
    /* A dtype field that is not a dtype, or disagrees with the element size. */
    const uint32_t dtypes[] = {0, 11, 99, UINT32_MAX, MPROC_INT64, MPROC_INT8};
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        uint8_t h[TU_HDR_LEN];
        memcpy(h, hdr, sizeof h);
        tu_put_u32(h, TU_OFF_DTYPE, dtypes[i]);
        tu_fix_checksum(h);
        int rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ECORRUPT || rc == MPROC_EDTYPE,
                      "header dtype %u with element size 4: %d (%s), expected ECORRUPT/EDTYPE",
                      dtypes[i], rc, tu_errname(rc));
    }
    /* Sizes that overflow: length * size wraps to the data bytes field. */
    {
        uint8_t h[TU_HDR_LEN];
        memcpy(h, hdr, sizeof h);
        tu_put_u64(h, TU_OFF_LENGTH, (uint64_t)1 << 62);
        tu_put_u64(h, TU_OFF_DATA_BYTES, 0); /* (2^62 * 4) mod 2^64 */
        tu_fix_checksum(h);
        int rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ECORRUPT || rc == MPROC_ETRUNCATED,
                      "overflowing length: %d (%s)", rc, tu_errname(rc));
        memcpy(h, hdr, sizeof h);
        tu_put_u64(h, TU_OFF_LENGTH, (uint64_t)1 << 62);
        tu_put_u64(h, TU_OFF_DATA_BYTES, 4000);
        tu_fix_checksum(h);
        rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ECORRUPT || rc == MPROC_ETRUNCATED,
                      "overflowing length, small data bytes: %d (%s)", rc, tu_errname(rc));
        memcpy(h, hdr, sizeof h);
        tu_put_u64(h, TU_OFF_DATA_OFFSET, UINT64_MAX - 4095);
        tu_fix_checksum(h);
        rc = forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY);
        ck_assert_msg(rc == MPROC_ECORRUPT || rc == MPROC_ETRUNCATED,
                      "data offset near 2^64: %d (%s)", rc, tu_errname(rc));
    }
    /* A consistent header that promises more data than the segment has. */
    {
        uint8_t h[TU_HDR_LEN];
        memcpy(h, hdr, sizeof h);
        tu_put_u64(h, TU_OFF_LENGTH, 1000000000u);
        tu_put_u64(h, TU_OFF_DATA_BYTES, 4000000000u);
        tu_fix_checksum(h);
        tu_assert_rc(forge_and_attach(h, sizeof h, MPROC_DATA_OFFSET + 4000, MPROC_DTYPE_ANY),
                     MPROC_ETRUNCATED);
        tu_assert_rc(forge_and_attach(h, sizeof h, size, MPROC_DTYPE_ANY), MPROC_ETRUNCATED);
    }
}
END_TEST

START_TEST(test_dtype_mismatch)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    char name[TU_NAME_LEN];
    tu_name(name, "mismatch");
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, t->dtype, 10), 0);
    for (int j = 0; j < MPROC_DTYPE_COUNT; j++) {
        mproc_array *b = BAD_PTR;
        int rc = mproc_array_attach(&b, name, tu_dtypes[j].dtype);
        if (j == (int)_i) {
            ck_assert_msg(rc == 0, "attach %s as itself: %s", t->name, tu_errname(rc));
            mproc_array_close(b);
        } else {
            ck_assert_msg(rc == MPROC_EDTYPE, "attach %s as %s: %d (%s), expected EDTYPE",
                          t->name, tu_dtypes[j].name, rc, tu_errname(rc));
            ck_assert_ptr_null(b);
        }
    }
    const mproc_dtype not_dtypes[] = {(mproc_dtype)11, (mproc_dtype)-1, (mproc_dtype)500};
    for (size_t j = 0; j < 3; j++) {
        mproc_array *b = BAD_PTR;
        tu_assert_rc(mproc_array_attach(&b, name, not_dtypes[j]), MPROC_EDTYPE);
        ck_assert_ptr_null(b);
    }
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

START_TEST(test_other_user_eacces)
{
    if (geteuid() != 0)
        return; /* needs root to become another user */
    char name[TU_NAME_LEN];
    tu_name(name, "eacces");
    make_named_i32(name, 10);
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(20);
        mproc_array *a = BAD_PTR;
        int rc = mproc_array_attach(&a, name, MPROC_INT32);
        if (rc != MPROC_EACCES)
            _exit(rc == 0 ? 21 : 22);
        if (a != NULL)
            _exit(23);
        if (mproc_array_unlink(name) == 0)
            _exit(24);
        _exit(0);
    }
    tu_assert_child_ok(pid, 10);
    ck_assert(tu_shm_exists(name));
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------------------ */

static TCase *tc(Suite *s, const char *name, double timeout)
{
    TCase *t = tcase_create(name);
    tu_tcase_defaults(t, timeout);
    suite_add_tcase(s, t);
    return t;
}

int main(void)
{
    tu_init();
    Suite *s = suite_create("array");
    TCase *t;

    t = tc(s, "meta", 10);
    tcase_add_test(t, test_version);
    tcase_add_test(t, test_strerror_every_code);
    tcase_add_test(t, test_error_names);
    tcase_add_test(t, test_dtype_parse_all_spellings);
    tcase_add_test(t, test_dtype_parse_errors);
    tcase_add_test(t, test_dtype_name_size);
    tcase_add_test(t, test_op_parse_name);

    t = tc(s, "lifecycle", 20);
    tcase_add_loop_test(t, test_create_anonymous, 0, MPROC_DTYPE_COUNT);
    tcase_add_loop_test(t, test_create_named_layout, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_create_leading_slash);
    tcase_add_loop_test(t, test_create_from, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_create_from_seed_program);
    tcase_add_test(t, test_create_from_errors);
    tcase_add_test(t, test_accessors_null);
    tcase_add_loop_test(t, test_attach_roundtrip, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_fork_named_sharing);
    tcase_add_test(t, test_fork_anonymous_sharing);
    tcase_add_test(t, test_unlink);
    tcase_add_loop_test(t, test_zero_length, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_many_arrays_no_leak);

    t = tc(s, "names", 10);
    tcase_add_test(t, test_missing_name);
    tcase_add_test(t, test_name_taken);
    tcase_add_test(t, test_invalid_names);
    tcase_add_test(t, test_name_max);

    t = tc(s, "arguments", 20);
    tcase_add_test(t, test_null_pointers);
    tcase_add_test(t, test_unknown_dtype);
    tcase_add_test(t, test_size_overflow);
    tcase_add_test(t, test_enospc);

    t = tc(s, "validation", 10);
    tcase_add_test(t, test_truncated_small_raw);
    tcase_add_test(t, test_truncated_short_data);
    tcase_add_test(t, test_forged_good_header_attaches);
    tcase_add_test(t, test_bad_magic);
    tcase_add_test(t, test_bad_version);
    tcase_add_test(t, test_bad_checksum);
    tcase_add_test(t, test_corrupt_fields);
    tcase_add_loop_test(t, test_dtype_mismatch, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_other_user_eacces);

    return tu_run(s);
}
