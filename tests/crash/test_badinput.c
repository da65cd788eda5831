/*
 * test_badinput.c - hostile and bad input (issue 4, item 5).
 *
 *  - A table of bad inputs to the public functions, each with the error it must give:
 *    NULLs, bad names, sizes that overflow, bad dtypes and ops, mismatched arrays, a ctx
 *    too big, bad pool options, attach to foreign, truncated, forged and odd files, use
 *    from a forked child. Every row runs, and the failures are reported together, one
 *    readable line per row.
 *  - /dev/shm exhaustion is MPROC_ENOSPC at creation, never a SIGBUS later: checked in a
 *    forked child with a private mount namespace and a 1 MiB tmpfs over /dev/shm (needs
 *    root or user namespaces; skipped with a log line otherwise). The real /dev/shm is
 *    never filled.
 *  - Segments are created with mode 0600 whatever the umask allows, and attach refuses a
 *    segment owned by another user (as root: a segment given to nobody, and nobody
 *    attaching to ours; skipped when not root).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define NOBODY 65534

/* ---- the fixture of the table --------------------------------------------------------- */

enum forged {
    F_JUNK, F_EMPTY, F_FRAGMENT, F_HEADER_ONLY, F_SHORT_BY_ONE, F_VERSION, F_CHECKSUM,
    F_ELEM_SIZE, F_DATA_BYTES, F_OFFSET_ODD, F_OFFSET_ZERO, F_OFFSET_HUGE, F_LENGTH_OVERFLOW,
    F_DTYPE_ZERO, F_DTYPE_BIG, F_HEADER_USED, F_COUNT
};

typedef struct fx {
    mproc_pool *pool;
    mproc_array *a32, *b32, *f64; /* int32 x 100, int32 x 50, float64 x 100 */
    char valid[TU_NAME_LEN];      /* a named int32 x 1000 */
    char forged[F_COUNT][TU_NAME_LEN];
    char fifo[TU_NAME_LEN], dir[TU_NAME_LEN], link[TU_NAME_LEN], missing[TU_NAME_LEN];
    char fresh[TU_NAME_LEN]; /* unused name for creations that must fail */
} fx;

#define VALID_LEN 1000u

static void put_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/dev/shm/%s", name);
}

/* Writes a copy of the valid segment, with its header changed as `kind` says. */
static void forge(fx *f, enum forged kind)
{
    static const char *tags[F_COUNT] = {
        "junk", "empty", "fragment", "hdr-only", "short1", "version", "checksum", "elemsize",
        "databytes", "off-odd", "off-zero", "off-huge", "len-ovf", "dtype0", "dtype99", "used"};
    const char *name = tu_name(f->forged[kind], tags[kind]);
    size_t size = MPROC_DATA_OFFSET + VALID_LEN * 4;
    uint8_t *seg = calloc(1, size);
    ck_assert_ptr_nonnull(seg);
    ck_assert_int_eq(tu_shm_read(f->valid, 0, seg, size), 0);
    bool fix = true;
    switch (kind) {
    case F_JUNK: memset(seg, 0x5a, size); fix = false; break;
    case F_EMPTY: size = 0; break;
    case F_FRAGMENT: size = 50; fix = false; break;
    case F_HEADER_ONLY: size = MPROC_DATA_OFFSET; break;
    case F_SHORT_BY_ONE: size -= 1; break;
    case F_VERSION: tu_put_u32(seg, TU_OFF_VERSION, 2); break;
    case F_CHECKSUM: seg[TU_OFF_INSTANCE] ^= 0xff; fix = false; break;
    case F_ELEM_SIZE: tu_put_u32(seg, TU_OFF_ELEM_SIZE, 8); break;
    case F_DATA_BYTES: tu_put_u64(seg, TU_OFF_DATA_BYTES, VALID_LEN * 4 - 4); break;
    case F_OFFSET_ODD: tu_put_u64(seg, TU_OFF_DATA_OFFSET, MPROC_DATA_OFFSET + 1); break;
    case F_OFFSET_ZERO: tu_put_u64(seg, TU_OFF_DATA_OFFSET, 0); break;
    case F_OFFSET_HUGE: tu_put_u64(seg, TU_OFF_DATA_OFFSET, UINT64_MAX - 4095); break;
    case F_LENGTH_OVERFLOW:
        tu_put_u64(seg, TU_OFF_LENGTH, (uint64_t)1 << 62);
        tu_put_u64(seg, TU_OFF_DATA_BYTES, 0); /* (2^62 * 4) mod 2^64 */
        break;
    case F_DTYPE_ZERO: tu_put_u32(seg, TU_OFF_DTYPE, 0); break;
    case F_DTYPE_BIG: tu_put_u32(seg, TU_OFF_DTYPE, 99); break;
    case F_HEADER_USED: tu_put_u32(seg, TU_OFF_HDR_BYTES, 96); break;
    default: break;
    }
    if (fix && size >= TU_HDR_LEN)
        tu_fix_checksum(seg);
    ck_assert_int_eq(tu_shm_create_raw(name, size, seg, size), 0);
    free(seg);
}

static void fx_setup(fx *f)
{
    memset(f, 0, sizeof *f);
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    tu_assert_rc(mproc_pool_create(&f->pool, &o), 0);
    tu_assert_rc(mproc_array_create(&f->a32, NULL, MPROC_INT32, 100), 0);
    tu_assert_rc(mproc_array_create(&f->b32, NULL, MPROC_INT32, 50), 0);
    tu_assert_rc(mproc_array_create(&f->f64, NULL, MPROC_FLOAT64, 100), 0);
    mproc_array *v = NULL;
    tu_assert_rc(mproc_array_create(&v, tu_name(f->valid, "valid"), MPROC_INT32, VALID_LEN), 0);
    mproc_array_close(v);
    for (int k = 0; k < F_COUNT; k++)
        forge(f, (enum forged)k);
    char path[TU_NAME_LEN + 16], target[TU_NAME_LEN + 16];
    put_path(path, sizeof path, tu_name(f->fifo, "fifo"));
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    put_path(path, sizeof path, tu_name(f->dir, "dir"));
    ck_assert_int_eq(mkdir(path, 0700), 0);
    put_path(path, sizeof path, tu_name(f->link, "link"));
    put_path(target, sizeof target, f->valid);
    ck_assert_int_eq(symlink(target, path), 0);
    tu_name(f->missing, "missing");
    tu_name(f->fresh, "fresh");
}

static void fx_teardown(fx *f)
{
    tu_assert_rc(mproc_pool_destroy(f->pool), 0);
    mproc_array_close(f->a32);
    mproc_array_close(f->b32);
    mproc_array_close(f->f64);
    tu_assert_rc(mproc_array_unlink(f->valid), 0);
    for (int k = 0; k < F_COUNT; k++)
        ck_assert_int_eq(tu_shm_unlink(f->forged[k]), 0);
    ck_assert_int_eq(tu_shm_unlink(f->fifo), 0);
    ck_assert_int_eq(tu_shm_unlink(f->link), 0);
    char path[TU_NAME_LEN + 16];
    put_path(path, sizeof path, f->dir);
    ck_assert_int_eq(rmdir(path), 0);
}

/* ---- calls that clean up after an unexpected success ------------------------------------ */

static int try_create(const char *name, mproc_dtype dtype, size_t length)
{
    mproc_array *a = NULL;
    int rc = mproc_array_create(&a, name, dtype, length);
    if (rc == 0) {
        mproc_array_close(a);
        if (name != NULL)
            mproc_array_unlink(name);
    } else if (a != NULL) {
        return INT_MIN; /* the out-parameter must be NULL on failure */
    }
    return rc;
}

static int try_create_from(const char *name, const void *values, size_t length)
{
    mproc_array *a = (mproc_array *)(uintptr_t)1;
    int rc = mproc_array_create_from(&a, name, MPROC_INT32, values, length);
    if (rc == 0) {
        mproc_array_close(a);
        if (name != NULL)
            mproc_array_unlink(name);
    }
    return rc;
}

static int try_attach(const char *name, mproc_dtype expected)
{
    mproc_array *a = (mproc_array *)(uintptr_t)1;
    int rc = mproc_array_attach(&a, name, expected);
    if (rc == 0)
        mproc_array_close(a);
    else if (a != NULL)
        return INT_MIN;
    return rc;
}

static int try_attach_raw(const char *name, mproc_dtype dtype, size_t length)
{
    mproc_array *a = (mproc_array *)(uintptr_t)1;
    int rc = mproc_array_attach_raw(&a, name, dtype, length);
    if (rc == 0)
        mproc_array_close(a);
    else if (a != NULL)
        return INT_MIN;
    return rc;
}

/* set_keep on a raw attach of name (which must refuse: a raw segment has no header). */
static int try_keep_raw(const char *name)
{
    mproc_array *a = NULL;
    int rc = mproc_array_attach_raw(&a, name, MPROC_UINT8, 1);
    if (rc != 0)
        return rc; /* (not an error set_keep can give for a raw array) */
    rc = mproc_array_set_keep(a, 1);
    mproc_array_close(a);
    return rc;
}

static int try_pool(int workers, int max_retries, unsigned spin_us, int commit_mode)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = workers;
    o.max_retries = max_retries;
    o.spin_us = spin_us;
    o.commit_mode = commit_mode;
    mproc_pool *p = (mproc_pool *)(uintptr_t)1;
    int rc = mproc_pool_create(&p, &o);
    if (rc == 0)
        mproc_pool_destroy(p);
    else if (p != NULL)
        return INT_MIN;
    return rc;
}

/* A name of n characters. */
static const char *long_name(size_t n)
{
    static char buf[512];
    memset(buf, 'n', n);
    buf[n] = '\0';
    return buf;
}

static int copy_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    memmove(dst, src, n * 4);
    return 0;
}

/* Runs `call` in a forked child with the parent's pool; returns what the child got. */
static int in_child(fx *f, int which)
{
    int fds[2];
    if (pipe(fds) != 0)
        return INT_MIN;
    pid_t pid = tu_fork();
    if (pid == 0) {
        close(fds[0]);
        int rc = which == 0 ? mproc_square(f->pool, f->a32)
                 : which == 1 ? mproc_pool_destroy(f->pool)
                              : mproc_pool_prepare(f->pool, f->a32);
        _exit(write(fds[1], &rc, sizeof rc) == sizeof rc ? 0 : 1);
    }
    close(fds[1]);
    int rc = INT_MIN;
    if (read(fds[0], &rc, sizeof rc) != sizeof rc)
        rc = INT_MIN;
    close(fds[0]);
    tu_wait(pid, 10);
    return rc;
}

/* ---- the table ------------------------------------------------------------------------------ */

/* X(id, expected error, description, call); f is the fixture. */
#define BAD_INPUTS(X)                                                                            \
    /* creating arrays */                                                                        \
    X(create_out_null, MPROC_EINVAL, "mproc_array_create(out NULL)",                            \
      mproc_array_create(NULL, NULL, MPROC_INT32, 1))                                            \
    X(create_dtype_any, MPROC_EDTYPE, "create with MPROC_DTYPE_ANY",                             \
      try_create(NULL, MPROC_DTYPE_ANY, 1))                                                      \
    X(create_dtype_11, MPROC_EDTYPE, "create with dtype 11", try_create(NULL, (mproc_dtype)11, 1)) \
    X(create_dtype_neg, MPROC_EDTYPE, "create with dtype -1", try_create(NULL, (mproc_dtype)-1, 1)) \
    X(name_empty, MPROC_ENAME, "name \"\"", try_create("", MPROC_INT32, 1))                      \
    X(name_slash, MPROC_ENAME, "name \"/\"", try_create("/", MPROC_INT32, 1))                    \
    X(name_two_slashes, MPROC_ENAME, "name \"//x\"", try_create("//x", MPROC_INT32, 1))          \
    X(name_inner_slash, MPROC_ENAME, "name \"a/b\"", try_create("a/b", MPROC_INT32, 1))          \
    X(name_dot, MPROC_ENAME, "name \".\"", try_create(".", MPROC_INT32, 1))                      \
    X(name_dotdot, MPROC_ENAME, "name \"..\"", try_create("..", MPROC_INT32, 1))                 \
    X(name_traversal, MPROC_ENAME, "name \"../etc/passwd\"",                                     \
      try_create("../etc/passwd", MPROC_INT32, 1))                                               \
    X(name_too_long, MPROC_ENAME, "name of MPROC_NAME_MAX + 1 characters",                       \
      try_create(long_name(MPROC_NAME_MAX + 1), MPROC_INT32, 1))                                 \
    X(name_space, MPROC_ENAME, "name with a space", try_create("a b", MPROC_INT32, 1))           \
    X(name_newline, MPROC_ENAME, "name with a newline", try_create("a\nb", MPROC_INT32, 1))      \
    X(name_utf8, MPROC_ENAME, "name with UTF-8", try_create("caf\xc3\xa9", MPROC_INT32, 1))      \
    X(len_overflow_i32, MPROC_EOVERFLOW, "SIZE_MAX int32 elements",                              \
      try_create(NULL, MPROC_INT32, SIZE_MAX))                                                   \
    X(len_overflow_f64, MPROC_EOVERFLOW, "SIZE_MAX / 8 + 1 float64 elements",                    \
      try_create(NULL, MPROC_FLOAT64, SIZE_MAX / 8 + 1))                                         \
    X(len_overflow_hdr, MPROC_EOVERFLOW, "SIZE_MAX int8 elements (+ header overflows)",          \
      try_create(NULL, MPROC_INT8, SIZE_MAX))                                                    \
    X(len_over_off_t, MPROC_EOVERFLOW, "INT64_MAX int8 elements (beyond off_t)",                 \
      try_create(f->fresh, MPROC_INT8, (size_t)INT64_MAX))                                       \
    X(len_beyond_memory, MPROC_ENOMEM, "2^50 bytes, anonymous (more than the machine has)",      \
      try_create(NULL, MPROC_INT8, (size_t)1 << 50))                                             \
    X(len_beyond_memory_named, MPROC_ENOMEM, "2^50 bytes, named",                                \
      try_create(f->fresh, MPROC_INT8, (size_t)1 << 50))                                         \
    X(from_values_null, MPROC_EINVAL, "create_from(values NULL, length 5)",                      \
      try_create_from(NULL, NULL, 5))                                                            \
    X(from_out_null, MPROC_EINVAL, "create_from(out NULL)",                                      \
      mproc_array_create_from(NULL, NULL, MPROC_INT32, "abcd", 1))                               \
    X(create_exists, MPROC_EEXIST, "create a name that exists", try_create(f->valid, MPROC_INT32, 1)) \
    /* attaching */                                                                              \
    X(attach_out_null, MPROC_EINVAL, "attach(out NULL)",                                         \
      mproc_array_attach(NULL, f->valid, MPROC_DTYPE_ANY))                                       \
    X(attach_name_null, MPROC_EINVAL, "attach(name NULL)", try_attach(NULL, MPROC_DTYPE_ANY))    \
    X(attach_bad_name, MPROC_ENAME, "attach(\"a/b\")", try_attach("a/b", MPROC_DTYPE_ANY))       \
    X(attach_missing, MPROC_ENOENT, "attach a name that does not exist",                         \
      try_attach(f->missing, MPROC_DTYPE_ANY))                                                   \
    X(attach_wrong_dtype, MPROC_EDTYPE, "attach int32 expecting float64",                        \
      try_attach(f->valid, MPROC_FLOAT64))                                                       \
    X(attach_bad_expected, MPROC_EDTYPE, "attach expecting dtype 42",                            \
      try_attach(f->valid, (mproc_dtype)42))                                                     \
    X(attach_junk, MPROC_EBADMAGIC, "attach 8 KiB of junk", try_attach(f->forged[F_JUNK], 0))     \
    X(attach_empty, MPROC_ETRUNCATED, "attach an empty segment",                                 \
      try_attach(f->forged[F_EMPTY], 0))                                                         \
    X(attach_fragment, MPROC_ETRUNCATED, "attach the first 50 bytes of a header",                \
      try_attach(f->forged[F_FRAGMENT], 0))                                                      \
    X(attach_header_only, MPROC_ETRUNCATED, "attach a header page without its data",             \
      try_attach(f->forged[F_HEADER_ONLY], 0))                                                   \
    X(attach_short_by_one, MPROC_ETRUNCATED, "attach a segment one byte short",                  \
      try_attach(f->forged[F_SHORT_BY_ONE], 0))                                                  \
    X(attach_version, MPROC_EVERSION, "attach format version 2",                                 \
      try_attach(f->forged[F_VERSION], 0))                                                       \
    X(attach_checksum, MPROC_ECORRUPT, "attach a header with a wrong checksum",                  \
      try_attach(f->forged[F_CHECKSUM], 0))                                                      \
    X(attach_elem_size, MPROC_ECORRUPT, "attach int32 claiming 8-byte elements",                 \
      try_attach(f->forged[F_ELEM_SIZE], 0))                                                     \
    X(attach_data_bytes, MPROC_ECORRUPT, "attach data_bytes != length * elem_size",              \
      try_attach(f->forged[F_DATA_BYTES], 0))                                                    \
    X(attach_offset_odd, MPROC_ECORRUPT, "attach data_offset 4097",                              \
      try_attach(f->forged[F_OFFSET_ODD], 0))                                                    \
    X(attach_offset_zero, MPROC_ECORRUPT, "attach data_offset 0 (data over the header)",         \
      try_attach(f->forged[F_OFFSET_ZERO], 0))                                                   \
    X(attach_offset_huge, MPROC_ECORRUPT, "attach data_offset near 2^64",                        \
      try_attach(f->forged[F_OFFSET_HUGE], 0))                                                   \
    X(attach_len_overflow, MPROC_ECORRUPT, "attach length 2^62 (length * 4 wraps to 0)",         \
      try_attach(f->forged[F_LENGTH_OVERFLOW], 0))                                               \
    X(attach_dtype_zero, MPROC_ECORRUPT, "attach a header with dtype 0",                         \
      try_attach(f->forged[F_DTYPE_ZERO], 0))                                                    \
    X(attach_dtype_big, MPROC_ECORRUPT, "attach a header with dtype 99",                         \
      try_attach(f->forged[F_DTYPE_BIG], 0))                                                     \
    X(attach_header_used, MPROC_ECORRUPT, "attach a header claiming 96 bytes in use",            \
      try_attach(f->forged[F_HEADER_USED], 0))                                                   \
    /* not regular files: errors, never a hang (the codes are the system's) */                   \
    X(attach_fifo, MPROC_EBADMAGIC, "attach a FIFO (not a regular file)", try_attach(f->fifo, 0))             \
    X(attach_symlink, MPROC_EBADMAGIC, "attach a symbolic link (O_NOFOLLOW)", try_attach(f->link, 0))     \
    X(attach_dir, MPROC_EINVAL, "attach a directory (shm_open: EINVAL)", try_attach(f->dir, 0))  \
    /* attaching a raw segment (no header): the caller gives dtype and length */               \
    X(raw_out_null, MPROC_EINVAL, "attach_raw(out NULL)",                                       \
      mproc_array_attach_raw(NULL, f->valid, MPROC_INT32, 1))                                    \
    X(raw_name_null, MPROC_EINVAL, "attach_raw(name NULL)", try_attach_raw(NULL, MPROC_INT32, 1)) \
    X(raw_bad_name, MPROC_ENAME, "attach_raw(\"../x\")", try_attach_raw("../x", MPROC_INT32, 1)) \
    X(raw_missing, MPROC_ENOENT, "attach_raw a name that does not exist",                       \
      try_attach_raw(f->missing, MPROC_INT32, 1))                                                \
    X(raw_dtype_any, MPROC_EDTYPE, "attach_raw with MPROC_DTYPE_ANY",                            \
      try_attach_raw(f->valid, MPROC_DTYPE_ANY, 1))                                              \
    X(raw_dtype_11, MPROC_EDTYPE, "attach_raw with dtype 11",                                    \
      try_attach_raw(f->valid, (mproc_dtype)11, 1))                                              \
    X(raw_len_overflow, MPROC_EOVERFLOW, "attach_raw SIZE_MAX int32 elements",                  \
      try_attach_raw(f->valid, MPROC_INT32, SIZE_MAX))                                           \
    X(raw_len_over_off_t, MPROC_EOVERFLOW, "attach_raw INT64_MAX + 1 int8 elements",            \
      try_attach_raw(f->valid, MPROC_INT8, (size_t)INT64_MAX + 1))                               \
    X(raw_one_byte_long, MPROC_ETRUNCATED, "attach_raw one byte more than the segment",         \
      try_attach_raw(f->valid, MPROC_INT8, MPROC_DATA_OFFSET + VALID_LEN * 4 + 1))               \
    X(raw_empty, MPROC_ETRUNCATED, "attach_raw 1 element of an empty segment",                  \
      try_attach_raw(f->forged[F_EMPTY], MPROC_INT8, 1))                                         \
    X(raw_fifo, MPROC_EBADMAGIC, "attach_raw a FIFO (no hang)",                                  \
      try_attach_raw(f->fifo, MPROC_INT32, 1))                                                   \
    X(raw_symlink, MPROC_EBADMAGIC, "attach_raw a symbolic link (O_NOFOLLOW)",                   \
      try_attach_raw(f->link, MPROC_INT32, 1))                                                   \
    X(raw_dir, MPROC_EINVAL, "attach_raw a directory (shm_open: EINVAL)",                        \
      try_attach_raw(f->dir, MPROC_INT32, 1))                                                    \
    /* keeping (mproc_array_set_keep) */                                                        \
    X(set_keep_null, MPROC_EINVAL, "set_keep(NULL)", mproc_array_set_keep(NULL, 1))             \
    X(set_keep_anonymous, MPROC_EINVAL, "set_keep of an anonymous array",                       \
      mproc_array_set_keep(f->a32, 1))                                                           \
    X(set_keep_raw, MPROC_EINVAL, "set_keep of a raw attach (no header)", try_keep_raw(f->valid)) \
    /* unlinking */                                                                              \
    X(unlink_null, MPROC_EINVAL, "unlink(NULL)", mproc_array_unlink(NULL))                       \
    X(unlink_bad_name, MPROC_ENAME, "unlink(\"../x\")", mproc_array_unlink("../x"))              \
    X(unlink_missing, MPROC_ENOENT, "unlink a name that does not exist",                         \
      mproc_array_unlink(f->missing))                                                            \
    /* dtypes, ops, kernels */                                                                   \
    X(dtype_parse_null, MPROC_EINVAL, "dtype_parse(NULL)",                                      \
      mproc_dtype_parse(NULL, &(mproc_dtype){0}))                                                \
    X(dtype_parse_out_null, MPROC_EINVAL, "dtype_parse(out NULL)",                               \
      mproc_dtype_parse("int32", NULL))                                                          \
    X(dtype_parse_int33, MPROC_EDTYPE, "dtype_parse(\"int33\")",                                 \
      mproc_dtype_parse("int33", &(mproc_dtype){0}))                                             \
    X(dtype_parse_empty, MPROC_EDTYPE, "dtype_parse(\"\")", mproc_dtype_parse("", &(mproc_dtype){0})) \
    X(op_parse_sqrt, MPROC_EINVAL, "op_parse(\"sqrt\")", mproc_op_parse("sqrt", &(mproc_op){0})) \
    X(op_parse_null, MPROC_EINVAL, "op_parse(NULL)", mproc_op_parse(NULL, &(mproc_op){0}))       \
    X(kernel_get_op0, MPROC_EINVAL, "kernel_get(op 0)",                                          \
      mproc_kernel_get((mproc_op)0, MPROC_INT32, &(mproc_kernel){0}))                            \
    X(kernel_get_dtype0, MPROC_EDTYPE, "kernel_get(dtype 0)",                                    \
      mproc_kernel_get(MPROC_OP_SQUARE, (mproc_dtype)0, &(mproc_kernel){0}))                     \
    X(kernel_get_out_null, MPROC_EINVAL, "kernel_get(out NULL)",                                 \
      mproc_kernel_get(MPROC_OP_SQUARE, MPROC_INT32, NULL))                                      \
    /* pools */                                                                                  \
    X(pool_out_null, MPROC_EINVAL, "pool_create(out NULL)", mproc_pool_create(NULL, NULL))       \
    X(pool_workers_neg, MPROC_EINVAL, "workers -1", try_pool(-1, 3, 50, 0))                      \
    X(pool_workers_big, MPROC_EINVAL, "workers MPROC_MAX_WORKERS + 1",                           \
      try_pool(MPROC_MAX_WORKERS + 1, 3, 50, 0))                                                 \
    X(pool_retries_neg, MPROC_EINVAL, "max_retries -1", try_pool(1, -1, 50, 0))                  \
    X(pool_retries_big, MPROC_EINVAL, "max_retries 1001", try_pool(1, 1001, 50, 0))              \
    X(pool_spin_big, MPROC_EINVAL, "spin_us 1000001", try_pool(1, 3, 1000001, 0))                \
    X(pool_commit_mode, MPROC_EINVAL, "commit_mode 2", try_pool(1, 3, 50, 2))                    \
    /* maps */                                                                                   \
    X(map_pool_null, MPROC_EINVAL, "map(pool NULL)",                                             \
      mproc_map(NULL, copy_kernel, NULL, 0, f->a32, f->a32))                                     \
    X(map_kernel_null, MPROC_EINVAL, "map(kernel NULL)",                                         \
      mproc_map(f->pool, NULL, NULL, 0, f->a32, f->a32))                                         \
    X(map_ctx_too_big, MPROC_EINVAL, "map(ctx_size MPROC_CTX_MAX + 1)",                          \
      mproc_map(f->pool, copy_kernel, long_name(MPROC_CTX_MAX + 1), MPROC_CTX_MAX + 1, f->a32,   \
                f->a32))                                                                         \
    X(map_ctx_null, MPROC_EINVAL, "map(ctx NULL, ctx_size 4)",                                   \
      mproc_map(f->pool, copy_kernel, NULL, 4, f->a32, f->a32))                                  \
    X(map_src_null, MPROC_EINVAL, "map(src NULL)",                                               \
      mproc_map(f->pool, copy_kernel, NULL, 0, NULL, f->a32))                                    \
    X(map_dst_null, MPROC_EINVAL, "map(dst NULL)",                                               \
      mproc_map(f->pool, copy_kernel, NULL, 0, f->a32, NULL))                                    \
    X(map_dtypes_differ, MPROC_EDTYPE, "map int32 -> float64",                                   \
      mproc_map(f->pool, copy_kernel, NULL, 0, f->a32, f->f64))                                  \
    X(map_lengths_differ, MPROC_ELENGTH, "map 100 -> 50 elements",                               \
      mproc_map(f->pool, copy_kernel, NULL, 0, f->a32, f->b32))                                  \
    X(map_op_zero, MPROC_EINVAL, "map_op(op 0)",                                                 \
      mproc_map_op(f->pool, (mproc_op)0, NULL, f->a32, f->a32))                                  \
    X(map_op_99, MPROC_EINVAL, "map_op(op 99)",                                                  \
      mproc_map_op(f->pool, (mproc_op)99, NULL, f->a32, f->a32))                                 \
    X(map_op_add_no_scalar, MPROC_EINVAL, "map_op(ADD, scalar NULL)",                            \
      mproc_map_op(f->pool, MPROC_OP_ADD, NULL, f->a32, f->a32))                                 \
    X(map_op_lengths_differ, MPROC_ELENGTH, "map_op square 100 -> 50",                           \
      mproc_map_op(f->pool, MPROC_OP_SQUARE, NULL, f->a32, f->b32))                              \
    X(square_pool_null, MPROC_EINVAL, "square(pool NULL)", mproc_square(NULL, f->a32))          \
    X(square_array_null, MPROC_EINVAL, "square(array NULL)", mproc_square(f->pool, NULL))       \
    X(prepare_pool_null, MPROC_EINVAL, "prepare(pool NULL)", mproc_pool_prepare(NULL, f->a32))  \
    X(prepare_array_null, MPROC_EINVAL, "prepare(array NULL)",                                   \
      mproc_pool_prepare(f->pool, NULL))                                                         \
    X(set_chunk_null, MPROC_EINVAL, "set_chunk(NULL)", mproc_pool_set_chunk(NULL, 10))           \
    X(last_failure_null, MPROC_EINVAL, "last_failure(out NULL)",                                 \
      mproc_pool_last_failure(f->pool, NULL))                                                    \
    X(last_failure_none, MPROC_ENOENT, "last_failure with no failure",                           \
      mproc_pool_last_failure(f->pool, &(mproc_map_failure){0}))                                 \
    X(stats_null, MPROC_EINVAL, "get_stats(out NULL)", mproc_pool_get_stats(f->pool, NULL))      \
    X(stats_pool_null, MPROC_EINVAL, "get_stats(pool NULL)",                                     \
      mproc_pool_get_stats(NULL, &(mproc_pool_stats){0}))                                        \
    X(worker_pids_null, MPROC_EINVAL, "worker_pids(pids NULL, cap 1)",                           \
      mproc_pool_worker_pids(f->pool, NULL, 1))                                                  \
    X(worker_pids_neg_cap, MPROC_EINVAL, "worker_pids(cap -1)",                                  \
      mproc_pool_worker_pids(f->pool, &(pid_t){0}, -1))                                          \
    X(child_square, MPROC_ESTATE, "square on the parent's pool from a forked child",             \
      in_child(f, 0))                                                                            \
    X(child_destroy, MPROC_ESTATE, "destroy the parent's pool from a forked child",              \
      in_child(f, 1))                                                                            \
    X(child_prepare, MPROC_ESTATE, "prepare on the parent's pool from a forked child",           \
      in_child(f, 2))                                                                            \
    /* segment inspection */                                                                     \
    X(seg_stat_null, MPROC_EINVAL, "segment_stat(NULL)",                                         \
      mproc_segment_stat(NULL, &(mproc_segment_info){0}))                                        \
    X(seg_stat_junk, MPROC_EBADMAGIC, "segment_stat of junk",                                    \
      mproc_segment_stat(f->forged[F_JUNK], &(mproc_segment_info){0}))                           \
    X(seg_stat_fifo, MPROC_EBADMAGIC, "segment_stat of a FIFO (no hang)",                        \
      mproc_segment_stat(f->fifo, &(mproc_segment_info){0}))                                     \
    X(seg_stat_link, MPROC_EBADMAGIC, "segment_stat of a symbolic link",                         \
      mproc_segment_stat(f->link, &(mproc_segment_info){0}))                                     \
    X(seg_stat_dir, MPROC_EBADMAGIC, "segment_stat of a directory",                              \
      mproc_segment_stat(f->dir, &(mproc_segment_info){0}))                                      \
    X(seg_stat_truncated, MPROC_ETRUNCATED, "segment_stat of a truncated segment",               \
      mproc_segment_stat(f->forged[F_SHORT_BY_ONE], &(mproc_segment_info){0}))                   \
    X(seg_reclaim_live, MPROC_EBUSY, "segment_reclaim of a live creator's segment",              \
      mproc_segment_reclaim(f->valid, NULL))                                                     \
    X(seg_reclaim_corrupt, MPROC_ECORRUPT, "segment_reclaim of a corrupt segment",               \
      mproc_segment_reclaim(f->forged[F_CHECKSUM], NULL))

#define ROW_FN(id, want, what, call)                                                             \
    static int row_##id(fx *f)                                                                   \
    {                                                                                            \
        (void)f;                                                                                 \
        return (call);                                                                           \
    }
BAD_INPUTS(ROW_FN)
#undef ROW_FN

typedef struct row {
    const char *id;
    const char *what;
    int want;
    int (*call)(fx *f);
} row;

#define ROW(id, want, what, call) {#id, what, want, row_##id},
static const row rows[] = {BAD_INPUTS(ROW)};
#undef ROW

START_TEST(test_bad_input_table)
{
    fx f;
    fx_setup(&f);
    size_t n = sizeof rows / sizeof rows[0], failed = 0;
    char report[8192] = "";
    for (size_t i = 0; i < n; i++) {
        int rc = rows[i].call(&f);
        bool ok = rc == rows[i].want;
        char line[512];
        snprintf(line, sizeof line, "%s %3zu %-24s %-58s -> %s%s%s\n", ok ? "ok  " : "FAIL", i + 1,
                 rows[i].id, rows[i].what, rc == INT_MIN ? "out-parameter not NULL" : tu_errname(rc),
                 ok ? "" : ", expected ", ok ? "" : tu_errname(rows[i].want));
        if (getenv("MPROC_TEST_VERBOSE") != NULL || !ok)
            fputs(line, stderr);
        if (!ok) {
            failed++;
            strncat(report, line, sizeof report - strlen(report) - 1);
        }
    }
    /* the data of the valid segment and the fixtures are untouched by all that */
    fx_teardown(&f);
    ck_assert_msg(n >= 30, "only %zu rows", n);
    ck_assert_msg(failed == 0, "%zu of %zu bad inputs gave the wrong result:\n%s", failed, n,
                  report);
}
END_TEST

/* ---- /dev/shm exhaustion ------------------------------------------------------------------- */

/* In a child: a private mount namespace with a 1 MiB tmpfs over /dev/shm. Exit codes:
 * 0 pass, 77 cannot set it up (skip), 10+ a failed step (message on stderr). */
static int enospc_child(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        fprintf(stderr, "enospc: unshare(CLONE_NEWNS): %s\n", strerror(errno));
        return 77;
    }
    /* ("none": the type is ignored here, but valgrind checks that it is a string) */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("mproc-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777") != 0) {
        fprintf(stderr, "enospc: mount tmpfs over /dev/shm: %s\n", strerror(errno));
        return 77;
    }
    mproc_array *a = NULL, *b = NULL;
    /* 1. 10 MB at once: refused at creation, nothing left behind */
    int rc = mproc_array_create(&a, "mproc-enospc-big", MPROC_INT32, 10u << 18);
    if (rc != MPROC_ENOSPC) {
        fprintf(stderr, "enospc: 10 MB array: %s, want MPROC_ENOSPC\n", tu_errname(rc));
        return 10;
    }
    if (a != NULL || tu_shm_exists("mproc-enospc-big")) {
        fprintf(stderr, "enospc: the failed creation left something\n");
        return 11;
    }
    /* 2. an array that fits, then the rest of the tmpfs filled by someone else */
    rc = mproc_array_create(&a, "mproc-enospc-fits", MPROC_INT32, 600u << 8); /* 600 KiB */
    if (rc != 0) {
        fprintf(stderr, "enospc: 600 KiB array in 1 MiB: %s\n", tu_errname(rc));
        return 12;
    }
    int fd = open("/dev/shm/filler", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    char block[4096];
    memset(block, 1, sizeof block);
    while (fd >= 0 && write(fd, block, sizeof block) == (ssize_t)sizeof block) {
    }
    if (fd >= 0)
        close(fd);
    /* 3. the reserved array is still fully writable: no SIGBUS (we would die of it) */
    int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < mproc_array_length(a); i++)
        d[i] = (int32_t)i;
    /* 4. a full /dev/shm: even a small array is refused, and leaves nothing */
    rc = mproc_array_create(&b, "mproc-enospc-small", MPROC_INT8, 64u << 10);
    if (rc != MPROC_ENOSPC) {
        fprintf(stderr, "enospc: 64 KiB array in a full /dev/shm: %s\n", tu_errname(rc));
        return 13;
    }
    if (tu_shm_exists("mproc-enospc-small")) {
        fprintf(stderr, "enospc: the failed creation left its name\n");
        return 14;
    }
    mproc_array_close(a);
    mproc_array_unlink("mproc-enospc-fits");
    unlink("/dev/shm/filler");
    return 0;
}

START_TEST(test_shm_full_is_enospc)
{
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(enospc_child());
    int st = tu_wait(pid, 20);
    ck_assert_msg(st != -1, "the /dev/shm exhaustion child hung");
    ck_assert_msg(!WIFSIGNALED(st), "the /dev/shm exhaustion child died of signal %d%s",
                  WTERMSIG(st), WTERMSIG(st) == SIGBUS ? " (SIGBUS: memory not reserved)" : "");
    if (WEXITSTATUS(st) == 77) {
        fprintf(stderr, "test_shm_full_is_enospc: SKIPPED (no private mount namespace here)\n");
        return;
    }
    ck_assert_msg(WEXITSTATUS(st) == 0, "/dev/shm exhaustion: step %d failed (see stderr)",
                  WEXITSTATUS(st));
}
END_TEST

/* ---- modes and owners --------------------------------------------------------------------- */

START_TEST(test_mode_0600)
{
    static const mode_t masks[] = {0, 022, 077, 0177};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        mode_t old = umask(masks[i]);
        char name[TU_NAME_LEN];
        mproc_array *a = NULL;
        int rc = mproc_array_create(&a, tu_name(name, "mode"), MPROC_INT32, 10);
        umask(old);
        tu_assert_rc(rc, 0);
        char path[TU_NAME_LEN + 16];
        put_path(path, sizeof path, name);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_msg((st.st_mode & 07777) == 0600, "umask %03o: mode %04o, want 0600",
                      (unsigned)masks[i], (unsigned)(st.st_mode & 07777));
        ck_assert_int_eq(st.st_uid, geteuid());
        mproc_segment_info info;
        tu_assert_rc(mproc_segment_stat(name, &info), 0);
        ck_assert_uint_eq(info.mode, 0600);
        mproc_array_close(a);
        tu_assert_rc(mproc_array_unlink(name), 0);
    }
}
END_TEST

/* A segment that belongs to another user is refused, even where the files would let us
 * open it (root): attach, stat and reclaim all say MPROC_EACCES, and it stays. */
START_TEST(test_foreign_owner_refused)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_foreign_owner_refused: SKIPPED (needs root to give a segment away)\n");
        return;
    }
    char name[TU_NAME_LEN], path[TU_NAME_LEN + 16];
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, tu_name(name, "foreign"), MPROC_INT32, 10), 0);
    mproc_array_close(a);
    put_path(path, sizeof path, name);
    ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
    tu_assert_rc(try_attach(name, MPROC_DTYPE_ANY), MPROC_EACCES);
    tu_assert_rc(mproc_segment_stat(name, &(mproc_segment_info){0}), MPROC_EACCES);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), MPROC_EACCES);
    ck_assert(tu_shm_exists(name));
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

/* Another user cannot attach to ours (mode 0600), nor see it in a list. */
START_TEST(test_other_user_cannot_attach)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_other_user_cannot_attach: SKIPPED (needs root to become nobody)\n");
        return;
    }
    char name[TU_NAME_LEN];
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, tu_name(name, "mine"), MPROC_INT32, 10), 0);
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(77);
        mproc_array *b = NULL;
        if (mproc_array_attach(&b, name, MPROC_DTYPE_ANY) != MPROC_EACCES)
            _exit(10);
        if (mproc_segment_stat(name, &(mproc_segment_info){0}) != MPROC_EACCES)
            _exit(11);
        if (mproc_segment_reclaim(name, NULL) != MPROC_EACCES)
            _exit(12);
        mproc_segment_info *list = NULL;
        size_t n = 0;
        if (mproc_segment_list(&list, &n) != 0)
            _exit(13);
        for (size_t i = 0; i < n; i++)
            if (strcmp(list[i].name, name) == 0)
                _exit(14);
        mproc_segment_list_free(list);
        if (mproc_array_unlink(name) != MPROC_EACCES) /* sticky /dev/shm: not ours */
            _exit(15);
        _exit(0);
    }
    int st = tu_wait(pid, 10);
    ck_assert(st != -1 && WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        fprintf(stderr, "test_other_user_cannot_attach: SKIPPED (cannot become nobody)\n");
    } else {
        ck_assert_msg(WEXITSTATUS(st) == 0, "as nobody, check %d failed", WEXITSTATUS(st));
    }
    ck_assert(tu_shm_exists(name));
    mproc_array_close(a);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

int main(void)
{
    tu_init();
    Suite *s = suite_create("badinput");
    TCase *tc = tcase_create("badinput");
    tu_tcase_defaults(tc, 30);
    tcase_add_test(tc, test_bad_input_table);
    tcase_add_test(tc, test_shm_full_is_enospc);
    tcase_add_test(tc, test_mode_0600);
    tcase_add_test(tc, test_foreign_owner_refused);
    tcase_add_test(tc, test_other_user_cannot_attach);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
