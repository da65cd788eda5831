/* testutil.c - helpers shared by the Check suites; see testutil.h. */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TU_MAX_SNAPSHOT 4096
#define TU_MAX_FORKED 1024

static pid_t tu_runner_pid;
static char tu_prefix_buf[64];
static unsigned tu_counter;

static char *tu_snapshot[TU_MAX_SNAPSHOT];
static int tu_snapshot_len;
static pid_t tu_forked[TU_MAX_FORKED];
static int tu_forked_len;

/* ---- time, processes ------------------------------------------------------------------ */

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tu_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* not the one opendir holds */
}

int tu_nproc(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* Parent pid and state of /proc/PID/stat; 0 on success. */
static int tu_proc_stat(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *close_paren = strrchr(buf, ')');
    int pp = 0;
    char st = '?';
    if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &st, &pp) != 2)
        return -1;
    *ppid = (pid_t)pp;
    if (state != NULL)
        *state = st;
    return 0;
}

int tu_children(pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    pid_t self = getpid();
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name), ppid;
        if (tu_proc_stat(pid, &ppid, NULL) == 0 && ppid == self) {
            if (out != NULL && count < max)
                out[count] = pid;
            count++;
        }
    }
    closedir(d);
    return count;
}

pid_t tu_fork(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid > 0 && tu_forked_len < TU_MAX_FORKED)
        tu_forked[tu_forked_len++] = pid;
    return pid;
}

int tu_wait(pid_t pid, double timeout_s)
{
    double deadline = tu_now() + timeout_s;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (tu_now() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return -1;
        }
        tu_sleep_ms(1);
    }
}

void tu_assert_child_ok(pid_t pid, double timeout_s)
{
    int st = tu_wait(pid, timeout_s);
    ck_assert_msg(st != -1, "child %d did not finish within %.1f s (killed)", (int)pid,
                  timeout_s);
    ck_assert_msg(WIFEXITED(st), "child %d died of signal %d", (int)pid,
                  WIFSIGNALED(st) ? WTERMSIG(st) : -1);
    ck_assert_msg(WEXITSTATUS(st) == 0, "child %d failed its checks: exit code %d", (int)pid,
                  WEXITSTATUS(st));
}

/* ---- names and /dev/shm --------------------------------------------------------------- */

bool tu_start_method_from_env(int argc, char **argv)
{
    mproc_spawn_main(argc, argv);
    const char *start = getenv("MPROC_TEST_START");
    if (start == NULL || strcmp(start, "spawn") != 0)
        return false;
    mproc_set_start_method(MPROC_START_SPAWN);
    setenv("MPROC_WORKER_EXE", "/proc/self/exe", 1);
    return true;
}

void tu_init(void)
{
    tu_runner_pid = getpid();
    snprintf(tu_prefix_buf, sizeof tu_prefix_buf, "mproc-test-%d-", (int)tu_runner_pid);
}

const char *tu_prefix(void)
{
    if (tu_prefix_buf[0] == '\0')
        tu_init();
    return tu_prefix_buf;
}

const char *tu_name(char *buf, const char *tag)
{
    snprintf(buf, TU_NAME_LEN, "%s%d-%u-%s", tu_prefix(), (int)getpid(), tu_counter++, tag);
    return buf;
}

bool tu_shm_exists(const char *name)
{
    char path[TU_NAME_LEN + 16];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    return lstat(path, &st) == 0;
}

int tu_shm_count_prefix(void)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return 0;
    int count = 0;
    struct dirent *e;
    size_t plen = strlen(tu_prefix());
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, tu_prefix(), plen) == 0)
            count++;
    closedir(d);
    return count;
}

/* Removes /dev/shm entries with the run prefix; returns how many there were and puts
 * the first name in first (if not NULL). */
static int tu_sweep_prefix(char *first, size_t first_len)
{
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return 0;
    int count = 0;
    struct dirent *e;
    size_t plen = strlen(tu_prefix());
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, tu_prefix(), plen) != 0)
            continue;
        if (count == 0 && first != NULL)
            snprintf(first, first_len, "%s", e->d_name);
        count++;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    return count;
}

static bool tu_in_snapshot(const char *name)
{
    for (int i = 0; i < tu_snapshot_len; i++)
        if (strcmp(tu_snapshot[i], name) == 0)
            return true;
    return false;
}

static bool tu_is_ours(pid_t pid)
{
    if (pid == getpid())
        return true;
    for (int i = 0; i < tu_forked_len; i++)
        if (tu_forked[i] == pid)
            return true;
    return false;
}

/* What a /dev/shm entry that appeared during a test is. */
enum tu_shm_kind {
    TU_SHM_GONE,    /* no longer there */
    TU_SHM_FOREIGN, /* another user's, or an mproc array whose creator is not ours */
    TU_SHM_OURS,    /* an mproc array created by this test process or one it forked */
    TU_SHM_UNKNOWN, /* anything else: not (yet) a valid array header */
};

static enum tu_shm_kind tu_classify(const char *name)
{
    char path[TU_NAME_LEN + 16];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    struct stat st;
    if (lstat(path, &st) != 0)
        return TU_SHM_GONE;
    if (st.st_uid != geteuid())
        return TU_SHM_FOREIGN;
    if (!S_ISREG(st.st_mode))
        return TU_SHM_UNKNOWN; /* (never open a fifo: it would block) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TU_SHM_GONE : TU_SHM_UNKNOWN;
    uint8_t hdr[TU_HDR_LEN];
    ssize_t got = pread(fd, hdr, sizeof hdr, 0);
    close(fd);
    if (got != (ssize_t)sizeof hdr || memcmp(hdr, "MPROCARR", 8) != 0)
        return TU_SHM_UNKNOWN;
    int64_t pid;
    memcpy(&pid, hdr + TU_OFF_PID, sizeof pid);
    return tu_is_ours((pid_t)pid) ? TU_SHM_OURS : TU_SHM_FOREIGN;
}

/* ---- fixture ---------------------------------------------------------------------------- */

void tu_setup(void)
{
    /* Orphaned grandchildren (e.g. workers of a pool whose creator was a child of the
     * test) are reparented to us, so the teardown sees them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    tu_snapshot_len = 0;
    tu_forked_len = 0;
    /* What an earlier test of this run left when it failed (its failure is reported
     * already) must not fail this one. */
    tu_sweep_prefix(NULL, 0);
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && tu_snapshot_len < TU_MAX_SNAPSHOT)
        if (strstr(e->d_name, "mproc") != NULL)
            tu_snapshot[tu_snapshot_len++] = strdup(e->d_name);
    closedir(d);
}

void tu_teardown(void)
{
    /* 1. children: kill and reap whatever is left, then fail. */
    pid_t kids[64];
    int nkids = tu_children(kids, 64);
    char kid_desc[256] = "";
    for (int i = 0; i < nkids && i < 64; i++) {
        char state = '?';
        pid_t ppid;
        tu_proc_stat(kids[i], &ppid, &state);
        size_t len = strlen(kid_desc);
        if (len < sizeof kid_desc - 24)
            snprintf(kid_desc + len, sizeof kid_desc - len, " %d(%c)", (int)kids[i], state);
        kill(kids[i], SIGKILL);
    }
    for (int i = 0; i < nkids && i < 64; i++)
        while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    int zombies = 0;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        zombies++;
    errno = 0;
    pid_t w = waitpid(-1, NULL, WNOHANG);
    int wait_errno = errno;

    /* 2. /dev/shm: our prefix, then any new "mproc" entry. */
    char first[TU_NAME_LEN] = "";
    int leftover = tu_sweep_prefix(first, sizeof first);
    /* New entries named *mproc*: arrays we created are ours (removed, and a failure);
     * arrays of other processes and other users' files are left alone (suites of other
     * runs may be at work on this machine). Anything else may be a segment that some
     * process is creating right now (its header is not written yet): look again for up
     * to 2 s, and count what is still not attributable then, without removing it. */
    int appeared = 0;
    char appeared_name[TU_NAME_LEN] = "";
    char *pending[64];
    int npending = 0;
    DIR *d = opendir("/dev/shm");
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strstr(e->d_name, "mproc") == NULL || tu_in_snapshot(e->d_name))
                continue;
            enum tu_shm_kind kind = tu_classify(e->d_name);
            if (kind == TU_SHM_OURS) {
                if (appeared++ == 0)
                    snprintf(appeared_name, sizeof appeared_name, "%s", e->d_name);
                unlinkat(dirfd(d), e->d_name, 0);
            } else if (kind == TU_SHM_UNKNOWN && npending < 64) {
                pending[npending++] = strdup(e->d_name);
            }
        }
        closedir(d);
    }
    for (double until = tu_now() + 2.0; npending > 0 && tu_now() < until;) {
        tu_sleep_ms(50);
        for (int i = 0; i < npending;) {
            enum tu_shm_kind kind = tu_classify(pending[i]);
            if (kind == TU_SHM_UNKNOWN) {
                i++;
                continue;
            }
            if (kind == TU_SHM_OURS) {
                if (appeared++ == 0)
                    snprintf(appeared_name, sizeof appeared_name, "%s", pending[i]);
                char path[TU_NAME_LEN + 16];
                snprintf(path, sizeof path, "/dev/shm/%s", pending[i]);
                unlink(path);
            }
            free(pending[i]);
            pending[i] = pending[--npending];
        }
    }
    for (int i = 0; i < npending; i++) {
        if (appeared++ == 0)
            snprintf(appeared_name, sizeof appeared_name, "%s (not an mproc array)",
                     pending[i]);
        free(pending[i]);
    }
    for (int i = 0; i < tu_snapshot_len; i++)
        free(tu_snapshot[i]);
    tu_snapshot_len = 0;

    ck_assert_msg(nkids == 0, "hygiene: %d child process(es) left after the test:%s", nkids,
                  kid_desc);
    ck_assert_msg(zombies == 0, "hygiene: %d unreaped child process(es) left", zombies);
    ck_assert_msg(w == -1 && wait_errno == ECHILD,
                  "hygiene: waitpid(-1, WNOHANG) = %d (errno %d), expected -1/ECHILD", (int)w,
                  wait_errno);
    ck_assert_msg(leftover == 0, "hygiene: %d /dev/shm entr(y/ies) left, e.g. %s", leftover,
                  first);
    ck_assert_msg(appeared == 0, "hygiene: %d new /dev/shm entr(y/ies) named *mproc*, e.g. %s",
                  appeared, appeared_name);
}

void tu_tcase_defaults(TCase *tc, double timeout_s)
{
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_set_timeout(tc, timeout_s);
}

int tu_run(Suite *suite)
{
    tu_prefix();
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char first[TU_NAME_LEN];
    int left = tu_sweep_prefix(first, sizeof first);
    if (left > 0) {
        fprintf(stderr, "testutil: removed %d leftover /dev/shm entr(y/ies), e.g. %s\n", left,
                first);
        failed++;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- raw segments ----------------------------------------------------------------------- */

uint32_t tu_fnv1a(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static int tu_shm_path(const char *name, char *path, size_t len)
{
    snprintf(path, len, "/%s", name[0] == '/' ? name + 1 : name);
    return 0;
}

int tu_shm_create_raw(const char *name, size_t size, const void *content, size_t content_len)
{
    char path[TU_NAME_LEN + 2];
    tu_shm_path(name, path, sizeof path);
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (ftruncate(fd, (off_t)size) != 0)
        rc = -errno;
    if (rc == 0 && content != NULL && content_len > 0 &&
        pwrite(fd, content, content_len, 0) != (ssize_t)content_len)
        rc = -EIO;
    close(fd);
    if (rc != 0)
        shm_unlink(path);
    return rc;
}

static int tu_shm_rw(const char *name, size_t off, void *buf, size_t n, bool write)
{
    char path[TU_NAME_LEN + 2];
    tu_shm_path(name, path, sizeof path);
    int fd = shm_open(path, write ? O_RDWR : O_RDONLY, 0);
    if (fd < 0)
        return -errno;
    ssize_t r = write ? pwrite(fd, buf, n, (off_t)off) : pread(fd, buf, n, (off_t)off);
    close(fd);
    return r == (ssize_t)n ? 0 : -EIO;
}

int tu_shm_read(const char *name, size_t off, void *buf, size_t n)
{
    return tu_shm_rw(name, off, buf, n, false);
}

int tu_shm_write(const char *name, size_t off, const void *buf, size_t n)
{
    return tu_shm_rw(name, off, (void *)buf, n, true);
}

int tu_shm_truncate(const char *name, off_t size)
{
    char path[TU_NAME_LEN + 2];
    tu_shm_path(name, path, sizeof path);
    int fd = shm_open(path, O_RDWR, 0);
    if (fd < 0)
        return -errno;
    int rc = ftruncate(fd, size) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

off_t tu_shm_size(const char *name)
{
    char path[TU_NAME_LEN + 16];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

int tu_shm_unlink(const char *name)
{
    char path[TU_NAME_LEN + 2];
    tu_shm_path(name, path, sizeof path);
    return shm_unlink(path) == 0 ? 0 : -errno;
}

uint32_t tu_get_u32(const uint8_t *hdr, size_t off)
{
    uint32_t v;
    memcpy(&v, hdr + off, sizeof v);
    return v;
}

uint64_t tu_get_u64(const uint8_t *hdr, size_t off)
{
    uint64_t v;
    memcpy(&v, hdr + off, sizeof v);
    return v;
}

void tu_put_u32(uint8_t *hdr, size_t off, uint32_t v)
{
    memcpy(hdr + off, &v, sizeof v);
}

void tu_put_u64(uint8_t *hdr, size_t off, uint64_t v)
{
    memcpy(hdr + off, &v, sizeof v);
}

void tu_fix_checksum(uint8_t *hdr)
{
    tu_put_u32(hdr, TU_OFF_CHECKSUM, tu_fnv1a(hdr, TU_OFF_CHECKSUM));
}

/* ---- dtypes and reference kernels -------------------------------------------------------- */

const tu_dtype_info tu_dtypes[MPROC_DTYPE_COUNT] = {
    {MPROC_INT8, "int8", "i8", 'b', 1, false, true},
    {MPROC_UINT8, "uint8", "u8", 'B', 1, false, false},
    {MPROC_INT16, "int16", "i16", 'h', 2, false, true},
    {MPROC_UINT16, "uint16", "u16", 'H', 2, false, false},
    {MPROC_INT32, "int32", "i32", 'i', 4, false, true},
    {MPROC_UINT32, "uint32", "u32", 'I', 4, false, false},
    {MPROC_INT64, "int64", "i64", 'q', 8, false, true},
    {MPROC_UINT64, "uint64", "u64", 'Q', 8, false, false},
    {MPROC_FLOAT32, "float32", "f32", 'f', 4, true, true},
    {MPROC_FLOAT64, "float64", "f64", 'd', 8, true, true},
};

const mproc_op tu_ops[TU_OP_COUNT] = {MPROC_OP_SQUARE, MPROC_OP_CUBE, MPROC_OP_NEGATE,
                                      MPROC_OP_ABS,    MPROC_OP_ADD,  MPROC_OP_MUL};

const tu_dtype_info *tu_dtype(mproc_dtype dtype)
{
    for (int i = 0; i < MPROC_DTYPE_COUNT; i++)
        if (tu_dtypes[i].dtype == dtype)
            return &tu_dtypes[i];
    return NULL;
}

static uint64_t tu_load_bits(const void *buf, size_t i, size_t size)
{
    uint64_t v = 0;
    memcpy(&v, (const uint8_t *)buf + i * size, size); /* little endian: low bytes */
    return v;
}

static void tu_store_bits(void *buf, size_t i, size_t size, uint64_t v)
{
    memcpy((uint8_t *)buf + i * size, &v, size);
}

static uint64_t tu_int_op(mproc_op op, uint64_t v, uint64_t s, unsigned bits, bool is_signed)
{
    uint64_t mask = bits == 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1);
    bool negative = is_signed && ((v >> (bits - 1)) & 1);
    uint64_t r;
    switch (op) {
    case MPROC_OP_SQUARE: r = v * v; break;
    case MPROC_OP_CUBE: r = v * v * v; break;
    case MPROC_OP_NEGATE: r = 0 - v; break;
    case MPROC_OP_ABS: r = negative ? 0 - v : v; break;
    case MPROC_OP_ADD: r = v + s; break;
    case MPROC_OP_MUL: r = v * s; break;
    default: r = v; break;
    }
    return r & mask;
}

void tu_ref_apply(mproc_op op, mproc_dtype dtype, const void *src, void *dst, size_t n,
                  const void *scalar)
{
    const tu_dtype_info *info = tu_dtype(dtype);
    if (info == NULL)
        return;
    if (dtype == MPROC_FLOAT32) {
        float s = scalar != NULL ? *(const float *)scalar : 0.0f;
        for (size_t i = 0; i < n; i++) {
            float x = ((const float *)src)[i], r;
            switch (op) {
            case MPROC_OP_SQUARE: r = x * x; break;
            case MPROC_OP_CUBE: r = x * x * x; break;
            case MPROC_OP_NEGATE: r = -x; break;
            case MPROC_OP_ABS: r = fabsf(x); break;
            case MPROC_OP_ADD: r = x + s; break;
            case MPROC_OP_MUL: r = x * s; break;
            default: r = x; break;
            }
            ((float *)dst)[i] = r;
        }
        return;
    }
    if (dtype == MPROC_FLOAT64) {
        double s = scalar != NULL ? *(const double *)scalar : 0.0;
        for (size_t i = 0; i < n; i++) {
            double x = ((const double *)src)[i], r;
            switch (op) {
            case MPROC_OP_SQUARE: r = x * x; break;
            case MPROC_OP_CUBE: r = x * x * x; break;
            case MPROC_OP_NEGATE: r = -x; break;
            case MPROC_OP_ABS: r = fabs(x); break;
            case MPROC_OP_ADD: r = x + s; break;
            case MPROC_OP_MUL: r = x * s; break;
            default: r = x; break;
            }
            ((double *)dst)[i] = r;
        }
        return;
    }
    uint64_t s = scalar != NULL ? tu_load_bits(scalar, 0, info->size) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = tu_load_bits(src, i, info->size);
        tu_store_bits(dst, i, info->size,
                      tu_int_op(op, v, s, (unsigned)info->size * 8, info->is_signed));
    }
}

static int64_t tu_ordered32(uint32_t u)
{
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

static bool tu_float_eq(mproc_dtype dtype, const void *got, const void *want, size_t i,
                        bool one_ulp)
{
    if (dtype == MPROC_FLOAT32) {
        float g = ((const float *)got)[i], w = ((const float *)want)[i];
        if (isnan(g) || isnan(w))
            return isnan(g) && isnan(w);
        uint32_t gu, wu;
        memcpy(&gu, &g, 4);
        memcpy(&wu, &w, 4);
        if (gu == wu)
            return true;
        return one_ulp && llabs(tu_ordered32(gu) - tu_ordered32(wu)) <= 1;
    }
    double g = ((const double *)got)[i], w = ((const double *)want)[i];
    if (isnan(g) || isnan(w))
        return isnan(g) && isnan(w);
    uint64_t gu, wu;
    memcpy(&gu, &g, 8);
    memcpy(&wu, &w, 8);
    if (gu == wu)
        return true;
    if (!one_ulp || ((gu ^ wu) >> 63) != 0 || isinf(g) || isinf(w))
        return false;
    return (gu > wu ? gu - wu : wu - gu) <= 1;
}

size_t tu_mismatch(mproc_op op, mproc_dtype dtype, const void *got, const void *want,
                   size_t n)
{
    const tu_dtype_info *info = tu_dtype(dtype);
    if (info == NULL)
        return 0;
    if (!info->is_float)
        for (size_t i = 0; i < n; i++) {
            if (memcmp((const uint8_t *)got + i * info->size,
                       (const uint8_t *)want + i * info->size, info->size) != 0)
                return i;
        }
    else
        for (size_t i = 0; i < n; i++)
            if (!tu_float_eq(dtype, got, want, i, op == MPROC_OP_CUBE))
                return i;
    return SIZE_MAX;
}

const char *tu_fmt(mproc_dtype dtype, const void *buf, size_t i, char *out, size_t out_len)
{
    const tu_dtype_info *info = tu_dtype(dtype);
    if (info == NULL) {
        snprintf(out, out_len, "?");
        return out;
    }
    uint64_t bits = tu_load_bits(buf, i, info->size);
    if (dtype == MPROC_FLOAT32)
        snprintf(out, out_len, "%.9g (0x%08" PRIx64 ")", (double)((const float *)buf)[i], bits);
    else if (dtype == MPROC_FLOAT64)
        snprintf(out, out_len, "%.17g (0x%016" PRIx64 ")", ((const double *)buf)[i], bits);
    else if (info->is_signed) {
        unsigned sh = 64 - (unsigned)info->size * 8;
        int64_t sv = (int64_t)(bits << sh) >> sh; /* sign extension (arithmetic shift) */
        snprintf(out, out_len, "%" PRId64, sv);
    } else
        snprintf(out, out_len, "%" PRIu64, bits);
    return out;
}

void tu_assert_op_result_at(const char *file, int line, mproc_op op, mproc_dtype dtype,
                            const void *src, const void *got, size_t n, const void *scalar)
{
    const tu_dtype_info *info = tu_dtype(dtype);
    ck_assert_msg(info != NULL, "%s:%d: bad dtype %d", file, line, (int)dtype);
    void *want = malloc(n * info->size + 1);
    ck_assert_ptr_nonnull(want);
    tu_ref_apply(op, dtype, src, want, n, scalar);
    size_t bad = tu_mismatch(op, dtype, got, want, n);
    char a[64] = "", b[64] = "", c[64] = "";
    if (bad != SIZE_MAX) {
        tu_fmt(dtype, src, bad, a, sizeof a);
        tu_fmt(dtype, got, bad, b, sizeof b);
        tu_fmt(dtype, want, bad, c, sizeof c);
    }
    free(want);
    ck_assert_msg(bad == SIZE_MAX,
                  "%s:%d: %s %s over %zu elements: element %zu: src %s -> got %s, expected %s",
                  file, line, mproc_op_name(op) ? mproc_op_name(op) : "?", info->name, n, bad,
                  a, b, c);
}

/* ---- values ---------------------------------------------------------------------------- */

uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void tu_fill_random(mproc_dtype dtype, void *buf, size_t n, uint64_t seed)
{
    const tu_dtype_info *info = tu_dtype(dtype);
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_rand(&st);
        if (dtype == MPROC_FLOAT32 || dtype == MPROC_FLOAT64) {
            if ((r & 7) == 0) { /* raw bits: NaN, inf, denormals, anything */
                tu_store_bits(buf, i, info->size, (r >> 3) ^ (r << 61));
                continue;
            }
            double mant = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
            int exp = (int)((r >> 3) % 121) - 60;
            double v = ldexp(1.0 + mant, exp) * ((r & 8) ? -1.0 : 1.0);
            if (dtype == MPROC_FLOAT32)
                ((float *)buf)[i] = (float)v;
            else
                ((double *)buf)[i] = v;
        } else {
            tu_store_bits(buf, i, info->size, r);
        }
    }
}

/* Integer square / cube wrap points per width: isqrt(2^(b-1)), isqrt(2^b),
 * icbrt(2^(b-1)), icbrt(2^b). */
static void tu_wrap_points(unsigned bits, uint64_t p[4])
{
    switch (bits) {
    case 8: p[0] = 11; p[1] = 16; p[2] = 5; p[3] = 6; break;
    case 16: p[0] = 181; p[1] = 256; p[2] = 32; p[3] = 40; break;
    case 32: p[0] = 46340; p[1] = 65536; p[2] = 1290; p[3] = 1625; break;
    default: p[0] = 3037000499u; p[1] = 4294967296u; p[2] = 2097152; p[3] = 2642245; break;
    }
}

#define TU_INT_SPECIALS 40
#define TU_FLOAT_SPECIALS 30

size_t tu_special_count(mproc_dtype dtype)
{
    return (dtype == MPROC_FLOAT32 || dtype == MPROC_FLOAT64) ? TU_FLOAT_SPECIALS
                                                             : TU_INT_SPECIALS;
}

void tu_fill_special(mproc_dtype dtype, void *buf, size_t n)
{
    const tu_dtype_info *info = tu_dtype(dtype);
    if (dtype == MPROC_FLOAT32 || dtype == MPROC_FLOAT64) {
        const double big_sqrt = dtype == MPROC_FLOAT32 ? 1.8446743e19 : 1.3407807929942596e154;
        const double big_cbrt = dtype == MPROC_FLOAT32 ? 6.9814635e12 : 5.643803094122362e102;
        const double vmax = dtype == MPROC_FLOAT32 ? FLT_MAX : DBL_MAX;
        const double vmin = dtype == MPROC_FLOAT32 ? FLT_MIN : DBL_MIN;
        const double vden = dtype == MPROC_FLOAT32 ? 1.401298464324817e-45 : 4.9406564584124654e-324;
        const double v[TU_FLOAT_SPECIALS] = {
            0.0,      -0.0,      1.0,       -1.0,      2.0,       -2.0,     0.5,  3.0,
            INFINITY, -INFINITY, NAN,       -NAN,      vmax,      -vmax,    vmin, -vmin,
            vden,     -vden,     big_sqrt,  -big_sqrt, big_cbrt * 1.01, -big_cbrt * 1.01,
            1e-20,    -1e-25,    0.1,       1.5,       1e10,      -7.25,    big_sqrt * 2, 12345.678};
        for (size_t i = 0; i < n; i++) {
            if (dtype == MPROC_FLOAT32)
                ((float *)buf)[i] = (float)v[i % TU_FLOAT_SPECIALS];
            else
                ((double *)buf)[i] = v[i % TU_FLOAT_SPECIALS];
        }
        return;
    }
    unsigned bits = (unsigned)info->size * 8;
    uint64_t sign = (uint64_t)1 << (bits - 1);
    uint64_t p[4];
    tu_wrap_points(bits, p);
    const uint64_t v[TU_INT_SPECIALS] = {
        0,        1,        2,        3,        5,        7,        10,          UINT64_MAX,
        UINT64_MAX - 1,     sign,     sign - 1, sign + 1, sign - 2,    0x5555555555555555ull,
        0xAAAAAAAAAAAAAAAAull,        p[0],     p[0] + 1, p[1] - 1,    p[1],
        p[1] + 1, p[2],     p[2] + 1, p[3],     p[3] + 1, 0 - p[0],    0 - (p[0] + 1),
        0 - p[1], 0 - (p[1] + 1),     0 - p[2], 0 - (p[2] + 1),       0 - p[3],
        0 - (p[3] + 1),     sign >> 1,          (sign >> 1) + 1,       0x7F,
        0x80,     0xFF,     0x8000,   0xFFFF,   0x80000000u};
    for (size_t i = 0; i < n; i++)
        tu_store_bits(buf, i, info->size, v[i % TU_INT_SPECIALS]);
}

const char *tu_errname(int rc)
{
    if (rc == 0)
        return "OK";
    const char *n = mproc_error_name(rc);
    if (n != NULL)
        return n;
    if (rc < 0 && rc > -4096) {
        const char *e = strerrorname_np(-rc);
        if (e != NULL)
            return e;
    }
    return "?";
}
