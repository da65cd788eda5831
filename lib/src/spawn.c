/*
 * spawn.c - pools whose workers are not forked: the control segment as a file other
 * programs can map (a memfd, or a named POSIX shm object), starting a worker program
 * with posix_spawn, and the worker's side: mproc_spawn_main (a spawned worker) and
 * mproc_worker_serve (a worker started by hand that joins a MANUAL pool).
 *
 * A worker program checks the segment's header (magic, version, layout of the shared
 * structures, size) before it trusts anything in it: a worker built from another
 * version of mproc refuses with MPROC_EVERSION instead of misreading the pool.
 */
#include "pool_internal.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

volatile sig_atomic_t mproc__stop_requested;

#define JOIN_TIMEOUT_NS (10ull * 1000000000ull) /* a spawned worker must be ready by then */

int mproc__ctl_create_fd(struct mproc_pool *pool, size_t bytes, size_t hot_bytes)
{
    char norm[MPROC_NAME_MAX + 2];
    int fd;
    if (pool->name != NULL) {
        snprintf(norm, sizeof norm, "/%s", pool->name);
        fd = shm_open(norm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return mproc__neg_errno(errno);
        fchmod(fd, 0600); /* whatever the umask */
    } else {
        fd = memfd_create("mproc-pool", MFD_CLOEXEC);
        if (fd < 0)
            return mproc__neg_errno(errno);
    }
    int rc = 0;
    if (ftruncate(fd, (off_t)bytes) != 0) {
        rc = mproc__neg_errno(errno);
    } else {
        /* Reserve what every map touches, so that a full /dev/shm is an error now and
         * not a SIGBUS in a worker later; the task area stays sparse. */
        int r = posix_fallocate(fd, 0, (off_t)hot_bytes);
        if (r != 0)
            rc = mproc__neg_errno(r);
    }
    void *mem = MAP_FAILED;
    if (rc == 0) {
        mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (mem == MAP_FAILED)
            rc = mproc__neg_errno(errno);
    }
    if (rc != 0) {
        close(fd);
        if (pool->name != NULL)
            shm_unlink(norm);
        return rc;
    }
    pool->ctl = mem;
    pool->ctl_fd = fd;
    if (pool->name != NULL)
        snprintf(pool->locator, sizeof pool->locator, "%s", norm);
    else
        snprintf(pool->locator, sizeof pool->locator, "/proc/%ld/fd/%d", (long)getpid(), fd);
    return 0;
}

/* After the control segment is unmapped: close its fd, remove its name. */
void mproc__ctl_remove(struct mproc_pool *pool)
{
    if (pool->ctl_fd >= 0) {
        close(pool->ctl_fd);
        pool->ctl_fd = -1;
    }
    if (pool->name != NULL && pool->creator == getpid()) {
        char norm[MPROC_NAME_MAX + 2];
        snprintf(norm, sizeof norm, "/%s", pool->name);
        shm_unlink(norm);
    }
}

bool mproc__creator_alive(const struct mproc__ctl *ctl)
{
    pid_t pid = (pid_t)ctl->hdr.creator_pid;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    uint64_t start;
    if (ctl->hdr.creator_start != 0 && mproc__proc_start_time(pid, &start) == 0)
        return start == ctl->hdr.creator_start; /* else the pid was reused */
    return true;
}

/*
 * Starts `worker_exe --mproc-worker LOCATOR SLOT SEEN` for slot index and waits until it
 * reports ready (it attached and checked the segment), so that a worker program that
 * cannot start is an error here and not a map that keeps losing workers. A new worker
 * killed by a signal before it was ready (someone killing the pool's workers) is
 * replaced, a few times; one that exits by itself refused the pool.
 */
#define SPAWN_ATTEMPTS 5

static int spawn_once(struct mproc_pool *pool, uint32_t index, uint64_t seen, bool *signaled)
{
    struct mproc__slot *slot = &pool->ctl->slots[index];
    char slot_arg[16], seen_arg[32];
    snprintf(slot_arg, sizeof slot_arg, "%u", index);
    snprintf(seen_arg, sizeof seen_arg, "%llu", (unsigned long long)seen);
    char *argv[] = {pool->worker_exe, "--mproc-worker", pool->locator, slot_arg, seen_arg, NULL};

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all); /* no handler of the caller's survives */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int r = posix_spawn(&pid, pool->worker_exe, NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return mproc__neg_errno(r);
    atomic_store(&slot->pid, (int32_t)pid);

    uint64_t deadline = mproc__now_ns() + JOIN_TIMEOUT_NS;
    while (!atomic_load(&slot->joined)) {
        int status = 0;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || mproc__now_ns() > deadline) {
            if (w != pid) {
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
                }
            }
            atomic_store(&slot->pid, 0);
            *signaled = w == pid && WIFSIGNALED(status);
            return MPROC_EWORKER; /* it exited (wrong program, another version) or hung */
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int mproc__spawn_worker(struct mproc_pool *pool, uint32_t index, uint64_t seen)
{
    int rc = MPROC_EWORKER;
    bool signaled = true;
    for (int i = 0; i < SPAWN_ATTEMPTS && rc == MPROC_EWORKER && signaled; i++) {
        rc = spawn_once(pool, index, seen, &signaled);
        if (rc == MPROC_EWORKER && signaled)
            pool->stats.worker_deaths++; /* a worker, killed before its first job */
    }
    return rc;
}

/* ---- the worker's side -------------------------------------------------------------- */

/* Opens and maps a control segment by locator: "NAME" or "/NAME" (shm), or
 * "/proc/PID/fd/N" (a spawning creator's memfd). Checks the header first. */
static int ctl_attach(const char *locator, struct mproc__ctl **out, size_t *bytes)
{
    int fd;
    if (strncmp(locator, "/proc/", 6) == 0) {
        fd = open(locator, O_RDWR | O_CLOEXEC);
    } else {
        char norm[MPROC_NAME_MAX + 2];
        int rc = mproc__name_normalize(locator, norm);
        if (rc != 0)
            return rc;
        fd = shm_open(norm, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
    }
    if (fd < 0)
        return mproc__neg_errno(errno);
    struct stat st;
    struct mproc__ctlhdr h;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = mproc__neg_errno(errno);
    else if (!S_ISREG(st.st_mode))
        rc = MPROC_EBADMAGIC;
    else if (st.st_uid != geteuid())
        rc = MPROC_EACCES;
    else if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        rc = MPROC_EBADMAGIC;
    else if (memcmp(h.magic, MPROC__CTL_MAGIC, sizeof h.magic) != 0)
        rc = MPROC_EBADMAGIC;
    else if (h.version != MPROC__CTL_VERSION || h.layout != mproc__ctl_layout())
        rc = MPROC_EVERSION;
    else if (h.bytes != (uint64_t)st.st_size)
        rc = MPROC_ETRUNCATED;
    void *mem = MAP_FAILED;
    if (rc == 0) {
        mem = mmap(NULL, (size_t)h.bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (mem == MAP_FAILED)
            rc = mproc__neg_errno(errno);
    }
    close(fd);
    if (rc != 0)
        return rc;
    *out = mem;
    *bytes = (size_t)h.bytes;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

MPROC_API int mproc_spawn_main(int argc, char **argv)
{
    if (argc < 2 || argv == NULL || argv[1] == NULL || strcmp(argv[1], "--mproc-worker") != 0)
        return 0;
    uint64_t index, seen;
    struct mproc__ctl *ctl;
    size_t bytes;
    if (argc != 5 || parse_u64(argv[3], &index) != 0 || parse_u64(argv[4], &seen) != 0) {
        fprintf(stderr, "mproc worker: bad arguments (started by a pool, not by hand)\n");
        exit(2);
    }
    int rc = ctl_attach(argv[2], &ctl, &bytes);
    if (rc != 0) {
        fprintf(stderr, "mproc worker: %s: %s\n", argv[2], mproc_strerror(rc));
        exit(2);
    }
    if (ctl->hdr.start_method != MPROC_START_SPAWN || index >= ctl->nslots) {
        fprintf(stderr, "mproc worker: %s has no spawned worker slot %llu\n", argv[2],
                (unsigned long long)index);
        exit(2);
    }
    mproc__worker_loop(ctl, (uint32_t)index, seen, MPROC__SPAWNED);
    fflush(NULL);
    exit(0);
}

/* Takes a free slot: its robust mutex first, then the pid (see pool_internal.h). */
static int join(struct mproc__ctl *ctl, uint32_t *index)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        for (uint32_t i = 0; i < ctl->nslots; i++) {
            struct mproc__slot *slot = &ctl->slots[i];
            if (atomic_load(&slot->pid) != 0)
                continue;
            int r = pthread_mutex_trylock(&slot->alive);
            if (r == EOWNERDEAD) {
                /* its last holder died and the caller has already freed the slot */
                pthread_mutex_consistent(&slot->alive);
                r = 0;
            }
            if (r != 0)
                continue;
            int32_t free_pid = 0;
            if (!atomic_compare_exchange_strong(&slot->pid, &free_pid, (int32_t)getpid())) {
                pthread_mutex_unlock(&slot->alive);
                continue;
            }
            *index = i;
            return 0;
        }
        struct timespec ts = {0, 1000000}; /* the caller may be looking at a slot */
        nanosleep(&ts, NULL);
    }
    return MPROC_EBUSY;
}

MPROC_API int mproc_worker_serve(const char *pool_name)
{
    if (pool_name == NULL)
        return MPROC_EINVAL;
    struct mproc__ctl *ctl;
    size_t bytes;
    int rc = ctl_attach(pool_name, &ctl, &bytes);
    if (rc != 0)
        return rc;
    if (atomic_load(&ctl->shutdown) || !mproc__creator_alive(ctl)) {
        munmap(ctl, bytes);
        return MPROC_ENOENT; /* a pool that is going away */
    }
    uint32_t index;
    if ((rc = join(ctl, &index)) != 0) {
        munmap(ctl, bytes);
        return rc;
    }
    struct mproc__slot *slot = &ctl->slots[index];
    mproc__stop_requested = 0;
    /* seen 0: join the map in progress, if any (a caller with no other worker waits for
     * us). A finished job run again finds no chunk left to claim. */
    mproc__worker_loop(ctl, index, 0, MPROC__JOINED);
    /* Leave: retired says "not a death"; unlock before freeing the pid (a joiner takes
     * a slot whose pid is 0 and whose mutex it can lock). */
    atomic_store(&slot->retired, 1);
    atomic_store(&slot->inside, 0);
    atomic_store(&slot->commit, MPROC__COMMIT(0, MPROC__IDLE));
    pthread_mutex_unlock(&slot->alive);
    int32_t me = (int32_t)getpid();
    atomic_compare_exchange_strong(&slot->pid, &me, 0);
    munmap(ctl, bytes);
    return 0;
}

MPROC_API void mproc_worker_stop(void)
{
    mproc__stop_requested = 1;
}
