/*
 * testutil.h - helpers shared by the Check suites of libmproc.
 *
 * Hygiene: every test case runs in its own process (CK_FORK) with the checked fixture
 * tu_setup/tu_teardown. tu_setup makes the test process a child subreaper (so that a
 * leaked grandchild is reparented to it and noticed) and snapshots /dev/shm; tu_teardown
 * fails the test if a child process is left (it kills and reaps them first, so that one
 * failure does not cascade), if anything with this run's name prefix is left in /dev/shm
 * (removed), or if an entry whose name contains "mproc" appeared during the test: an
 * mproc array created by the test process or a child of it (removed), or, after 2 s of
 * grace, anything else that is not another process's or another user's array (left in
 * place: other runs of the suites may be creating segments on this machine right now).
 * tu_setup also removes what an earlier, failed test of this run left with the prefix.
 *
 * Names: tu_name() gives "mproc-test-<runner pid>-<test pid>-<counter>-<tag>", unique per
 * run and per test; tu_run() removes anything left with the run's prefix at the end.
 */
#ifndef MPROC_TESTUTIL_H
#define MPROC_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mproc.h"

#define TU_NAME_LEN 256
#define TU_HDR_LEN 80 /* bytes of the documented header fields */

/* Header field offsets, as documented in mproc.h. */
enum {
    TU_OFF_MAGIC = 0,
    TU_OFF_VERSION = 8,
    TU_OFF_HDR_BYTES = 12,
    TU_OFF_DTYPE = 16,
    TU_OFF_ELEM_SIZE = 20,
    TU_OFF_LENGTH = 24,
    TU_OFF_DATA_OFFSET = 32,
    TU_OFF_DATA_BYTES = 40,
    TU_OFF_INSTANCE = 48,
    TU_OFF_PID = 56,
    TU_OFF_START_TIME = 64,
    TU_OFF_FLAGS = 72,
    TU_OFF_CHECKSUM = 76,
};

/* ---- suite running and hygiene ------------------------------------------------------ */

/* Records the runner's pid (the name prefix); call first in main(). */
void tu_init(void);
/*
 * For suites that run under both start methods: when this process was spawned as a
 * pool's worker, serves and exits (mproc_spawn_main); otherwise, with
 * MPROC_TEST_START=spawn in the environment, makes spawn the default start method with
 * this very program as the worker executable, and returns true. Call at the top of main,
 * after registering the suite's kernels by name.
 */
bool tu_start_method_from_env(int argc, char **argv);
/* Adds the hygiene fixture and a timeout (seconds) to a test case. */
void tu_tcase_defaults(TCase *tc, double timeout_s);
/* Runs the suite (CK_ENV verbosity), sweeps leftovers, returns the exit status. */
int tu_run(Suite *suite);

void tu_setup(void);
void tu_teardown(void);

/* "mproc-test-<runner pid>-" */
const char *tu_prefix(void);
/* Writes a fresh unique name with the run prefix into buf (TU_NAME_LEN bytes). */
const char *tu_name(char *buf, const char *tag);

/* Children of the calling process (running or zombie), from /proc. Returns the count
 * (at most max are stored). */
int tu_children(pid_t *out, int max);
/* Whether /dev/shm/NAME exists (name without leading '/'). */
bool tu_shm_exists(const char *name);
/* Number of /dev/shm entries whose name starts with tu_prefix(). */
int tu_shm_count_prefix(void);

/* fork() that remembers the pid (for attributing /dev/shm entries) and, in the child,
 * marks it as a child so that helpers never call ck_assert there. */
pid_t tu_fork(void);
/* Waits for pid for at most timeout_s; SIGKILLs and reaps it on timeout.
 * Returns the raw wait status, or -1 on timeout / error. */
int tu_wait(pid_t pid, double timeout_s);
/* Expects the child to exit normally with code 0; formats a message otherwise. */
void tu_assert_child_ok(pid_t pid, double timeout_s);

/* Open file descriptors of the calling process. */
int tu_count_fds(void);

double tu_now(void); /* monotonic seconds */
void tu_sleep_ms(unsigned ms);
int tu_nproc(void);

/* ---- raw segment access (forging headers) -------------------------------------------- */

uint32_t tu_fnv1a(const void *data, size_t n);
/* Creates /dev/shm/NAME with O_EXCL, size bytes, the first content_len bytes copied
 * from content (may be NULL). Returns 0 or -errno. */
int tu_shm_create_raw(const char *name, size_t size, const void *content, size_t content_len);
int tu_shm_read(const char *name, size_t off, void *buf, size_t n);
int tu_shm_write(const char *name, size_t off, const void *buf, size_t n);
int tu_shm_truncate(const char *name, off_t size);
off_t tu_shm_size(const char *name);
int tu_shm_unlink(const char *name);

uint32_t tu_get_u32(const uint8_t *hdr, size_t off);
uint64_t tu_get_u64(const uint8_t *hdr, size_t off);
void tu_put_u32(uint8_t *hdr, size_t off, uint32_t v);
void tu_put_u64(uint8_t *hdr, size_t off, uint64_t v);
/* Recomputes the checksum field of an 80-byte header. */
void tu_fix_checksum(uint8_t *hdr);

/* ---- dtypes, reference kernels, comparison -------------------------------------------- */

typedef struct tu_dtype_info {
    mproc_dtype dtype;
    const char *name;  /* full name */
    const char *short_name;
    char typecode;     /* a Python typecode for it */
    size_t size;
    bool is_float;
    bool is_signed;
} tu_dtype_info;

extern const tu_dtype_info tu_dtypes[MPROC_DTYPE_COUNT];
const tu_dtype_info *tu_dtype(mproc_dtype dtype);

#define TU_OP_COUNT 6
extern const mproc_op tu_ops[TU_OP_COUNT];

/* Serial reference of a built-in op: integers in unsigned (wrapping) arithmetic, floats
 * in the dtype's own precision. scalar is used by ADD and MUL. src may equal dst. */
void tu_ref_apply(mproc_op op, mproc_dtype dtype, const void *src, void *dst, size_t n,
                  const void *scalar);
/* Index of the first element where got differs from want (NaN equals any NaN; the
 * float32 / float64 cube may differ by one ulp), or SIZE_MAX if none. */
size_t tu_mismatch(mproc_op op, mproc_dtype dtype, const void *got, const void *want,
                   size_t n);
/* Formats element i of buf for messages. */
const char *tu_fmt(mproc_dtype dtype, const void *buf, size_t i, char *out, size_t out_len);

/* Deterministic pseudo-random bits (xorshift64*). */
uint64_t tu_rand(uint64_t *state);
/* Fills n elements with random bit patterns (floats: mostly finite random values, some
 * random bit patterns including NaN/inf). */
void tu_fill_random(mproc_dtype dtype, void *buf, size_t n, uint64_t seed);
/* Fills n elements cycling through the dtype's special values (limits, 0, +-1, the
 * square-root and cube-root wrap points; floats: +-0, +-inf, NaN, denormals, max...). */
void tu_fill_special(mproc_dtype dtype, void *buf, size_t n);
/* Number of special values tu_fill_special cycles through. */
size_t tu_special_count(mproc_dtype dtype);

/* Asserts that got equals the reference of op over src (n elements), with a message
 * naming the first bad index and the values. */
#define tu_assert_op_result(op, dtype, src, got, n, scalar)                                   \
    tu_assert_op_result_at(__FILE__, __LINE__, (op), (dtype), (src), (got), (n), (scalar))
void tu_assert_op_result_at(const char *file, int line, mproc_op op, mproc_dtype dtype,
                            const void *src, const void *got, size_t n, const void *scalar);

/* Asserts rc == want with the error names in the message. */
#define tu_assert_rc(rc, want)                                                                \
    do {                                                                                      \
        int tu_rc_ = (rc), tu_want_ = (want);                                                 \
        ck_assert_msg(tu_rc_ == tu_want_, "%s returned %d (%s), expected %d (%s)", #rc,       \
                      tu_rc_, tu_errname(tu_rc_), tu_want_, tu_errname(tu_want_));            \
    } while (0)

const char *tu_errname(int rc);

/* Checks cond for every VAR in [0, count) and asserts once, at the first failure, with
 * the message (which may use VAR). A passing ck_assert costs a write to Check's channel
 * in fork mode, so loops over elements must not assert per element. */
#define tu_assert_each(VAR, count, cond, ...)                                                 \
    do {                                                                                      \
        size_t tu_n_ = (size_t)(count), VAR;                                                  \
        for (VAR = 0; VAR < tu_n_; VAR++)                                                     \
            if (!(cond))                                                                      \
                break;                                                                        \
        if (VAR < tu_n_)                                                                      \
            ck_abort_msg(__VA_ARGS__);                                                        \
    } while (0)

#endif /* MPROC_TESTUTIL_H */
