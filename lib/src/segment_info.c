/*
 * segment_info.c - inspection and reclaiming of named arrays: stat, list, reclaim (what
 * `mproc ls` and `mproc gc` are built on).
 *
 * Headers are read with pread and validated exactly as attach does (mproc__header_check),
 * but the data is never mapped: a truncated or hostile segment is an error code, and a
 * segment in use by others is not disturbed. Files are opened read-only, without
 * following links and without blocking (a FIFO someone left in /dev/shm must not hang
 * `mproc ls`), and anything that is not a regular file of ours is refused before its
 * contents are read.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm"

/* State (field 3) and start time (field 22) of /proc/PID/stat. 0, MPROC_ENOENT when
 * there is no such process, or another error when it cannot be told. */
static int proc_state(pid_t pid, char *state, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MPROC_ENOENT : mproc__neg_errno(errno);
    ssize_t n;
    do {
        n = read(fd, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return MPROC_ENOENT; /* it went away between open and read */
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and ')': fields resume after the last. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0')
        return MPROC_ECORRUPT;
    *state = p[2];
    for (int field = 3; field <= 22 && p != NULL; field++) /* to the space before field 22 */
        p = strchr(p + 1, ' ');
    if (p == NULL)
        return MPROC_ECORRUPT;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (end == p + 1 || errno != 0)
        return MPROC_ECORRUPT;
    *start = v;
    return 0;
}

/* 1 if the creator recorded in a header is (or may be) running, 0 if it is surely dead. */
static int creator_alive(int64_t pid, uint64_t start)
{
    if (pid <= 0 || pid > INT_MAX)
        return 0; /* no process can have that pid */
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 0;
    char state = '?';
    uint64_t now = 0;
    int rc = proc_state((pid_t)pid, &state, &now);
    if (rc == MPROC_ENOENT)
        return 0;
    if (rc != 0)
        return 1; /* exists (kill said so) but unreadable: cannot tell */
    if (state == 'Z' || state == 'X')
        return 0; /* exited, not yet reaped */
    if (start == 0)
        return 1; /* no start time recorded: the pid is all we have */
    return now == start;
}

/* Validates the segment open at fd (named name, without '/') and fills *out. */
static int stat_fd(int fd, const char *name, mproc_segment_info *out)
{
    struct stat st;
    struct mproc__header h;
    int rc = mproc__segment_read_header(fd, MPROC_DTYPE_ANY, &h, &st);
    if (rc != 0)
        return rc;

    mproc_segment_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.name, sizeof info.name, "%s", name);
    info.owner = st.st_uid;
    info.mode = (unsigned)(st.st_mode & 07777);
    info.size = (uint64_t)st.st_size;
    info.dtype = (mproc_dtype)h.dtype;
    info.elem_size = h.elem_size;
    info.length = h.length;
    info.data_offset = h.data_offset;
    info.data_bytes = h.data_bytes;
    info.version = h.version;
    info.flags = h.flags;
    info.instance_id = h.instance_id;
    info.creator_pid = (pid_t)h.creator_pid;
    info.creator_start = h.creator_start;
    info.creator_alive = creator_alive(h.creator_pid, h.creator_start);
    info.keep = (h.flags & MPROC_ARRAY_KEEP) != 0;
    *out = info;
    return 0;
}

/* Opens /dev/shm/NAME (normalized, with '/') read-only, without following a link and
 * without blocking on a FIFO. */
static int open_segment(const char *shm_name)
{
    int fd = shm_open(shm_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
    if (fd >= 0)
        return fd;
    if (errno == ELOOP)
        return MPROC_EBADMAGIC; /* a symbolic link: not a segment we made */
    return mproc__neg_errno(errno);
}

MPROC_API int mproc_segment_stat(const char *name, mproc_segment_info *out)
{
    if (name == NULL || out == NULL)
        return MPROC_EINVAL;
    char shm_name[MPROC_NAME_MAX + 2];
    int rc = mproc__name_normalize(name, shm_name);
    if (rc != 0)
        return rc;
    int fd = open_segment(shm_name);
    if (fd < 0)
        return fd;
    rc = stat_fd(fd, shm_name + 1, out);
    close(fd);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const mproc_segment_info *)a)->name, ((const mproc_segment_info *)b)->name);
}

/* Adds the entry `name` of the open directory to the list if it is one of ours. */
static int consider(DIR *dir, const char *name, mproc_segment_info **list, size_t *count,
                    size_t *cap)
{
    char shm_name[MPROC_NAME_MAX + 2];
    if (mproc__name_normalize(name, shm_name) != 0)
        return 0;
    struct stat st;
    if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid())
        return 0; /* gone, not a file, or not ours: skip before opening anything */
    int fd = openat(dirfd(dir), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    mproc_segment_info info;
    int rc = stat_fd(fd, name, &info);
    close(fd);
    if (rc != 0)
        return 0; /* not an mproc segment (or no longer one) */
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        mproc_segment_info *grown = realloc(*list, ncap * sizeof *grown);
        if (grown == NULL)
            return MPROC_ENOMEM;
        *list = grown;
        *cap = ncap;
    }
    (*list)[(*count)++] = info;
    return 0;
}

MPROC_API int mproc_segment_list(mproc_segment_info **out, size_t *count)
{
    if (out == NULL || count == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    *count = 0;
    DIR *dir = opendir(SHM_DIR);
    if (dir == NULL)
        return mproc__neg_errno(errno);
    mproc_segment_info *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL)
        rc = consider(dir, e->d_name, &list, &n, &cap);
    closedir(dir);
    if (rc != 0) {
        free(list);
        return rc;
    }
    if (n > 1)
        qsort(list, n, sizeof *list, by_name);
    *out = list;
    *count = n;
    return 0;
}

MPROC_API void mproc_segment_list_free(mproc_segment_info *list)
{
    free(list);
}

MPROC_API int mproc_segment_reclaim(const char *name, mproc_segment_info *out)
{
    if (name == NULL)
        return MPROC_EINVAL;
    char shm_name[MPROC_NAME_MAX + 2];
    int rc = mproc__name_normalize(name, shm_name);
    if (rc != 0)
        return rc;
    int fd = open_segment(shm_name);
    if (fd < 0)
        return fd;
    mproc_segment_info info;
    rc = stat_fd(fd, shm_name + 1, &info);
    if (rc == 0 && (info.keep || info.creator_alive))
        rc = MPROC_EBUSY; /* made to outlive its creator, or still in its creator's hands */
    if (rc == 0) {
        /* Unlink only the file we checked: the name may have been removed and created
         * again by a live process meanwhile. (A window of a few instructions remains
         * between this check and the unlink, in which the name could be replaced or the
         * array kept; POSIX offers no unlink-if-same-file.) */
        struct stat mine, now;
        char path[sizeof SHM_DIR + MPROC_NAME_MAX + 2];
        snprintf(path, sizeof path, SHM_DIR "%s", shm_name);
        if (fstat(fd, &mine) != 0)
            rc = mproc__neg_errno(errno);
        else if (lstat(path, &now) != 0)
            rc = mproc__neg_errno(errno);
        else if (now.st_dev != mine.st_dev || now.st_ino != mine.st_ino)
            rc = MPROC_EBUSY;
        else if (shm_unlink(shm_name) != 0)
            rc = mproc__neg_errno(errno);
    }
    close(fd);
    if (rc == 0 && out != NULL)
        *out = info;
    return rc;
}
