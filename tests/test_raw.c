/*
 * test_raw.c - mproc_array_attach_raw: segments without an mproc header (the way Python's
 * SharedMemory makes them), made here with shm_open + ftruncate. Every dtype, sizes
 * (bigger is fine, smaller is MPROC_ETRUNCATED, 0), names, files that are not segments,
 * bad arguments, and pool maps over raw arrays done by forked workers.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define BAD_PTR ((mproc_array *)(uintptr_t)0x1)
#define NOBODY 65534

/* Makes /dev/shm/NAME of `size` bytes holding n random elements of dtype at offset 0;
 * returns the elements (malloc'd, at least one byte). */
static void *make_raw(const char *name, mproc_dtype dtype, size_t n, size_t size, uint64_t seed)
{
    size_t bytes = n * mproc_dtype_size(dtype);
    void *values = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(values);
    tu_fill_random(dtype, values, n, seed);
    ck_assert_int_eq(tu_shm_create_raw(name, size, values, bytes), 0);
    return values;
}

/* attach_raw that must fail: checks *out is NULL afterwards and the segment is left. */
static int attach_fails(const char *name, mproc_dtype dtype, size_t length)
{
    mproc_array *a = BAD_PTR;
    int rc = mproc_array_attach_raw(&a, name, dtype, length);
    if (rc == 0)
        mproc_array_close(a);
    else
        ck_assert_msg(a == NULL, "failed attach_raw (%s) left *out = %p", tu_errname(rc),
                      (void *)a);
    return rc;
}

static void put_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/dev/shm/%s", name);
}

/* ---- attaching ------------------------------------------------------------------------- */

/* Every dtype: the data is at offset 0, the accessors say what was asked, writes through
 * the handle land in the segment, and close neither unlinks nor changes it. */
START_TEST(test_raw_every_dtype)
{
    mproc_dtype dt = tu_dtypes[_i].dtype;
    size_t n = 1001, es = mproc_dtype_size(dt), bytes = n * es;
    char name[TU_NAME_LEN];
    tu_name(name, "raw");
    void *values = make_raw(name, dt, n, bytes, 7 + (uint64_t)_i);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach_raw(&a, name, dt, n), 0);
    ck_assert_int_eq(mproc_array_dtype(a), dt);
    ck_assert_uint_eq(mproc_array_length(a), n);
    ck_assert_str_eq(mproc_array_name(a), name);
    uint8_t *d = mproc_array_data(a);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq((uintptr_t)d % 4096u, 0);
    ck_assert_int_eq(memcmp(d, values, bytes), 0);
    memset(d + bytes - es, 0xab, es);
    tu_assert_rc(mproc_array_close(a), 0);
    uint8_t last[8];
    ck_assert_int_eq(tu_shm_read(name, bytes - es, last, es), 0);
    tu_assert_each(k, es, last[k] == 0xab, "byte %zu of the last element: %#x", k, last[k]);
    ck_assert_int_eq(tu_shm_size(name), (off_t)bytes);
    /* A leading '/' names the same segment; unlink removes a raw one too. */
    char slashed[TU_NAME_LEN + 1];
    snprintf(slashed, sizeof slashed, "/%s", name);
    tu_assert_rc(mproc_array_attach_raw(&a, slashed, dt, n), 0);
    ck_assert_str_eq(mproc_array_name(a), name);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    ck_assert(!tu_shm_exists(name));
    free(values);
}
END_TEST

/* A bigger segment is fine (a maker may round its size up to a page), and a shorter one
 * is MPROC_ETRUNCATED, by one byte as by much. */
START_TEST(test_raw_sizes)
{
    char name[TU_NAME_LEN];
    tu_name(name, "page");
    free(make_raw(name, MPROC_FLOAT64, 10, 4096, 1));
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach_raw(&a, name, MPROC_FLOAT64, 10), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_attach_raw(&a, name, MPROC_FLOAT64, 512), 0); /* exactly */
    ck_assert_uint_eq(mproc_array_length(a), 512);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(attach_fails(name, MPROC_FLOAT64, 513), MPROC_ETRUNCATED);
    tu_assert_rc(attach_fails(name, MPROC_INT8, 4097), MPROC_ETRUNCATED);
    tu_assert_rc(attach_fails(name, MPROC_INT64, (size_t)1 << 40), MPROC_ETRUNCATED);
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

/* Length 0: any segment will do, even an empty one; the data pointer is not NULL, and a
 * map over it does nothing. */
START_TEST(test_raw_length_zero)
{
    char name[TU_NAME_LEN];
    tu_name(name, "empty");
    ck_assert_int_eq(tu_shm_create_raw(name, 0, NULL, 0), 0);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach_raw(&a, name, MPROC_INT32, 0), 0);
    ck_assert_uint_eq(mproc_array_length(a), 0);
    ck_assert_ptr_nonnull(mproc_array_data(a));
    tu_assert_rc(attach_fails(name, MPROC_INT8, 1), MPROC_ETRUNCATED);
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    mproc_pool *pool = NULL;
    tu_assert_rc(mproc_pool_create(&pool, &o), 0);
    tu_assert_rc(mproc_square(pool, a), 0);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

START_TEST(test_raw_bad_arguments)
{
    char name[TU_NAME_LEN], missing[TU_NAME_LEN];
    tu_name(name, "args");
    tu_name(missing, "missing");
    free(make_raw(name, MPROC_INT32, 4, 16, 2));
    tu_assert_rc(mproc_array_attach_raw(NULL, name, MPROC_INT32, 4), MPROC_EINVAL);
    tu_assert_rc(attach_fails(NULL, MPROC_INT32, 4), MPROC_EINVAL);
    tu_assert_rc(attach_fails("", MPROC_INT32, 4), MPROC_ENAME);
    tu_assert_rc(attach_fails("a/b", MPROC_INT32, 4), MPROC_ENAME);
    tu_assert_rc(attach_fails("..", MPROC_INT32, 4), MPROC_ENAME);
    tu_assert_rc(attach_fails(missing, MPROC_INT32, 4), MPROC_ENOENT);
    tu_assert_rc(attach_fails(name, MPROC_DTYPE_ANY, 4), MPROC_EDTYPE);
    tu_assert_rc(attach_fails(name, (mproc_dtype)11, 4), MPROC_EDTYPE);
    tu_assert_rc(attach_fails(name, (mproc_dtype)-1, 4), MPROC_EDTYPE);
    tu_assert_rc(attach_fails(name, MPROC_INT32, SIZE_MAX), MPROC_EOVERFLOW);
    tu_assert_rc(attach_fails(name, MPROC_FLOAT64, SIZE_MAX / 8 + 1), MPROC_EOVERFLOW);
    tu_assert_rc(attach_fails(name, MPROC_INT8, (size_t)INT64_MAX + 1), MPROC_EOVERFLOW);
    ck_assert(tu_shm_exists(name));
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

/* Files that are not segments: a symbolic link (to a good segment), a FIFO (no hang) and
 * a directory. */
START_TEST(test_raw_not_regular)
{
    char target[TU_NAME_LEN], link[TU_NAME_LEN], fifo[TU_NAME_LEN], dir[TU_NAME_LEN];
    char path[TU_NAME_LEN + 16], tpath[TU_NAME_LEN + 16];
    free(make_raw(tu_name(target, "target"), MPROC_INT32, 4, 16, 3));
    put_path(path, sizeof path, tu_name(link, "link"));
    put_path(tpath, sizeof tpath, target);
    ck_assert_int_eq(symlink(tpath, path), 0);
    put_path(path, sizeof path, tu_name(fifo, "fifo"));
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    put_path(path, sizeof path, tu_name(dir, "dir"));
    ck_assert_int_eq(mkdir(path, 0700), 0);
    tu_assert_rc(attach_fails(link, MPROC_INT32, 4), MPROC_EBADMAGIC);
    tu_assert_rc(attach_fails(fifo, MPROC_INT32, 4), MPROC_EBADMAGIC);
    tu_assert_rc(attach_fails(dir, MPROC_INT32, 4), MPROC_EINVAL); /* shm_open: EISDIR */
    ck_assert_int_eq(rmdir(path), 0);
    ck_assert_int_eq(tu_shm_unlink(fifo), 0);
    ck_assert_int_eq(tu_shm_unlink(link), 0);
    ck_assert_int_eq(tu_shm_unlink(target), 0);
}
END_TEST

/* As root: a segment that belongs to another user is refused, though root could open it. */
START_TEST(test_raw_foreign_owner)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_raw_foreign_owner: SKIPPED (needs root to give a segment away)\n");
        return;
    }
    char name[TU_NAME_LEN], path[TU_NAME_LEN + 16];
    free(make_raw(tu_name(name, "foreign"), MPROC_INT32, 4, 16, 4));
    put_path(path, sizeof path, name);
    ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
    tu_assert_rc(attach_fails(name, MPROC_INT32, 4), MPROC_EACCES);
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

/* ---- pool maps --------------------------------------------------------------------------- */

/* Elements squared by processes other than the test's: a shared page made before the
 * pool, so that the forked workers count into it. */
static _Atomic uint64_t *by_workers;
static pid_t test_pid;

static int counting_square(const void *src, void *dst, size_t n, const void *ctx)
{
    static mproc_kernel square;
    if (square == NULL && mproc_kernel_get(MPROC_OP_SQUARE, MPROC_INT32, &square) != 0)
        return -1;
    if (getpid() != test_pid)
        atomic_fetch_add(by_workers, n);
    return square(src, dst, n, ctx);
}

static mproc_pool *two_forked_workers(size_t chunk)
{
    by_workers = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(by_workers, MAP_FAILED);
    test_pid = getpid();
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    o.caller_works = 0; /* both forked: every chunk is done by a worker that attached */
    o.chunk = chunk;
    mproc_pool *pool = NULL;
    tu_assert_rc(mproc_pool_create(&pool, &o), 0);
    return pool;
}

/* Every dtype, squared in place by two forked workers, exactly as the serial reference. */
START_TEST(test_raw_pool_square)
{
    mproc_dtype dt = tu_dtypes[_i].dtype;
    size_t n = 100003, bytes = n * mproc_dtype_size(dt);
    char name[TU_NAME_LEN];
    tu_name(name, "square");
    void *values = make_raw(name, dt, n, (bytes + 4095) / 4096 * 4096, 11 + (uint64_t)_i);
    mproc_pool *pool = two_forked_workers(1000);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach_raw(&a, name, dt, n), 0);
    tu_assert_rc(mproc_square(pool, a), 0);
    tu_assert_op_result(MPROC_OP_SQUARE, dt, values, mproc_array_data(a), n, NULL);
    /* and through the segment, as another process sees it */
    void *seen = malloc(bytes);
    ck_assert_int_eq(tu_shm_read(name, 0, seen, bytes), 0);
    tu_assert_op_result(MPROC_OP_SQUARE, dt, values, seen, n, NULL);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    free(seen);
    free(values);
}
END_TEST

/* The seed values, by the workers (counted), with mproc_map and a raw source into an
 * mproc array and back. */
START_TEST(test_raw_pool_map_mixed)
{
    const int32_t seed[] = {2, 3, 4, 5, 6, 7, 8}, want[] = {4, 9, 16, 25, 36, 49, 64};
    char name[TU_NAME_LEN];
    ck_assert_int_eq(tu_shm_create_raw(tu_name(name, "seed"), 4096, seed, sizeof seed), 0);
    mproc_pool *pool = two_forked_workers(1);
    mproc_array *raw = NULL, *plain = NULL;
    tu_assert_rc(mproc_array_attach_raw(&raw, name, MPROC_INT32, 7), 0);
    tu_assert_rc(mproc_array_create(&plain, NULL, MPROC_INT32, 7), 0);
    tu_assert_rc(mproc_map(pool, counting_square, NULL, 0, raw, plain), 0);
    ck_assert_int_eq(memcmp(mproc_array_data(plain), want, sizeof want), 0);
    ck_assert_int_eq(memcmp(mproc_array_data(raw), seed, sizeof seed), 0);
    tu_assert_rc(mproc_map(pool, counting_square, NULL, 0, raw, raw), 0);
    ck_assert_int_eq(memcmp(mproc_array_data(raw), want, sizeof want), 0);
    ck_assert_uint_eq(atomic_load(by_workers), 14);
    tu_assert_rc(mproc_pool_prepare(pool, raw), 0);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    tu_assert_rc(mproc_array_close(raw), 0);
    tu_assert_rc(mproc_array_close(plain), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

/* Closing a raw array drops the workers' mappings of it: a new segment under the same
 * name, with other values and another size, is what the next map squares. */
START_TEST(test_raw_close_evicts)
{
    char name[TU_NAME_LEN];
    tu_name(name, "again");
    mproc_pool *pool = two_forked_workers(100);
    for (int round = 0; round < 3; round++) {
        size_t n = 1000 + (size_t)round * 500;
        int32_t *values = make_raw(name, MPROC_INT32, n, n * 4, 100 + (uint64_t)round);
        mproc_array *a = NULL;
        tu_assert_rc(mproc_array_attach_raw(&a, name, MPROC_INT32, n), 0);
        tu_assert_rc(mproc_map(pool, counting_square, NULL, 0, a, a), 0);
        tu_assert_op_result(MPROC_OP_SQUARE, MPROC_INT32, values, mproc_array_data(a), n, NULL);
        tu_assert_rc(mproc_array_close(a), 0);
        tu_assert_rc(mproc_array_unlink(name), 0);
        free(values);
    }
    ck_assert_uint_eq(atomic_load(by_workers), 1000 + 1500 + 2000);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
}
END_TEST

/* The name is given to another segment while the handle is open: the workers find the
 * other inode, refuse it, and the map is MPROC_EATTACH; the new segment is untouched. */
START_TEST(test_raw_name_reused)
{
    char name[TU_NAME_LEN];
    tu_name(name, "reused");
    mproc_pool *pool = two_forked_workers(10);
    int32_t *values = make_raw(name, MPROC_INT32, 100, 400, 5);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach_raw(&a, name, MPROC_INT32, 100), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    int32_t *other = make_raw(name, MPROC_INT32, 100, 400, 6);
    tu_assert_rc(mproc_square(pool, a), MPROC_EATTACH);
    int32_t seen[100];
    ck_assert_int_eq(tu_shm_read(name, 0, seen, sizeof seen), 0);
    ck_assert_int_eq(memcmp(seen, other, sizeof seen), 0);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    free(values);
    free(other);
}
END_TEST

int main(void)
{
    tu_init();
    Suite *s = suite_create("raw");
    TCase *t = tcase_create("attach");
    tu_tcase_defaults(t, 30);
    tcase_add_loop_test(t, test_raw_every_dtype, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_raw_sizes);
    tcase_add_test(t, test_raw_length_zero);
    tcase_add_test(t, test_raw_bad_arguments);
    tcase_add_test(t, test_raw_not_regular);
    tcase_add_test(t, test_raw_foreign_owner);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("pool");
    tu_tcase_defaults(p, 60);
    tcase_add_loop_test(p, test_raw_pool_square, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(p, test_raw_pool_map_mixed);
    tcase_add_test(p, test_raw_close_evicts);
    tcase_add_test(p, test_raw_name_reused);
    suite_add_tcase(s, p);
    return tu_run(s);
}
