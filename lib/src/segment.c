/*
 * segment.c - the segment header, names, and validated mapping of a segment.
 *
 * Validation reads the header with pread (never through a mapping), and maps the
 * segment only after the header is proven consistent with fstat's size, so that a
 * truncated or hostile segment is an error code and never a SIGBUS.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mproc__name_normalize(const char *name, char out[MPROC_NAME_MAX + 2])
{
    if (name == NULL)
        return MPROC_EINVAL;
    if (name[0] == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || len > MPROC_NAME_MAX)
        return MPROC_ENAME;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return MPROC_ENAME;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return MPROC_ENAME;
    }
    out[0] = '/';
    memcpy(out + 1, name, len + 1);
    return 0;
}

size_t mproc__data_offset(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return (page > MPROC_DATA_OFFSET) ? (size_t)page : MPROC_DATA_OFFSET;
}

/* FNV-1a over the header bytes before the checksum field. */
uint32_t mproc__header_checksum(const struct mproc__header *hdr)
{
    const unsigned char *p = (const unsigned char *)hdr;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < offsetof(struct mproc__header, checksum); i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* Start time of a process in clock ticks after boot (/proc/PID/stat field 22): with the
 * pid it identifies a process even after the pid is reused. */
int mproc__proc_start_time(pid_t pid, uint64_t *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mproc__neg_errno(errno);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return MPROC_ENOENT;
    buf[n] = '\0';
    /* The command name (field 2) may contain spaces and ')': skip to the last ')'.
     * From there, the k-th space is the one before field k + 2. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return MPROC_ECORRUPT;
    for (int field = 3; field <= 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL)
        return MPROC_ECORRUPT;
    *out = strtoull(p + 1, NULL, 10);
    return 0;
}

uint64_t mproc__random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 16);
        v ^= (uint64_t)(uintptr_t)&v;
    }
    return v;
}

/* Checks a header read from a segment of `size` bytes (`got` of them read). Also used
 * by segment_info.c, which validates headers without mapping the data. */
int mproc__header_check(const struct mproc__header *h, size_t got, uint64_t size,
                        mproc_dtype expected)
{
    if (got < sizeof h->magic || memcmp(h->magic, MPROC__MAGIC, sizeof h->magic) != 0)
        return got == 0 ? MPROC_ETRUNCATED : MPROC_EBADMAGIC;
    if (got < offsetof(struct mproc__header, header_used))
        return MPROC_ETRUNCATED;
    if (h->version != MPROC_FORMAT_VERSION)
        return MPROC_EVERSION;
    if (got < sizeof *h || size < mproc__data_offset())
        return MPROC_ETRUNCATED;
    if (h->checksum != mproc__header_checksum(h) || h->header_used != MPROC__HEADER_USED)
        return MPROC_ECORRUPT;
    if (!mproc__dtype_valid(h->dtype) || h->elem_size != mproc_dtype_size((mproc_dtype)h->dtype))
        return MPROC_ECORRUPT;
    uint64_t bytes;
    if (__builtin_mul_overflow(h->length, (uint64_t)h->elem_size, &bytes) || bytes != h->data_bytes)
        return MPROC_ECORRUPT;
    uint64_t page = mproc__data_offset(), end;
    if (h->data_offset < page || h->data_offset % page != 0 || h->data_offset > (1u << 30))
        return MPROC_ECORRUPT;
    if (__builtin_add_overflow(h->data_offset, h->data_bytes, &end) || end > (uint64_t)SIZE_MAX)
        return MPROC_ECORRUPT;
    if (size < end)
        return MPROC_ETRUNCATED;
    if (expected != MPROC_DTYPE_ANY && (uint32_t)expected != h->dtype)
        return MPROC_EDTYPE;
    return 0;
}

/* Reads and validates the header of the segment open at fd, with pread only: the
 * segment must be a regular file of ours whose real size holds header and data. */
int mproc__segment_read_header(int fd, mproc_dtype expected, struct mproc__header *h,
                               struct stat *st)
{
    if (fstat(fd, st) != 0)
        return mproc__neg_errno(errno);
    if (!S_ISREG(st->st_mode))
        return MPROC_EBADMAGIC; /* a directory, FIFO or device is not a segment */
    if (st->st_uid != geteuid())
        return MPROC_EACCES;
    /* The flags and checksum of a header can change while it is read (set_keep writes
     * them as one aligned 8-byte word), and pread promises no atomicity for them: a
     * checksum that does not match is read again, a few times, before it is corruption.
     * A real corruption stays corrupt; a torn read does not repeat. */
    int rc = MPROC_ECORRUPT;
    for (int attempt = 0; attempt < 3 && rc == MPROC_ECORRUPT; attempt++) {
        memset(h, 0, sizeof *h);
        ssize_t got;
        do {
            got = pread(fd, h, sizeof *h, 0);
        } while (got < 0 && errno == EINTR);
        if (got < 0)
            return mproc__neg_errno(errno);
        rc = mproc__header_check(h, (size_t)got, (uint64_t)st->st_size, expected);
    }
    return rc;
}

/* The flags and the checksum as one word: adjacent, 8-byte aligned in the header, which
 * starts a page-aligned mapping. An aligned 8-byte compare-and-swap is one atomic
 * access on every 64-bit Linux target (lock cmpxchg on x86-64, ldaxr/stlxr or cas on
 * aarch64), and lock-free, so it works between processes. */
#define FLAGS_WORD offsetof(struct mproc__header, flags)
_Static_assert(FLAGS_WORD % 8 == 0, "flags + checksum form an aligned 8-byte word");
_Static_assert(offsetof(struct mproc__header, checksum) == FLAGS_WORD + 4, "adjacent");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && sizeof(long long) == sizeof(uint64_t),
               "8-byte atomics are lock-free, so they work between processes");

int mproc__header_update_flags(struct mproc__mapping *m, uint32_t set, uint32_t clear)
{
    uint64_t *word = (uint64_t *)(void *)((char *)m->base + FLAGS_WORD);
    uint64_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE), want;
    struct mproc__header h;
    for (;;) {
        /* Bytes 0..71 never change after creation: our validated copy stands for them.
         * The word in shared memory must still agree with it, or the header was
         * rewritten under us (and a checksum made from our copy would hide that). */
        h = m->hdr;
        memcpy((char *)&h + FLAGS_WORD, &old, sizeof old);
        if (h.checksum != mproc__header_checksum(&h))
            return MPROC_ECORRUPT;
        h.flags = (h.flags & ~clear) | set;
        h.checksum = mproc__header_checksum(&h);
        memcpy(&want, (char *)&h + FLAGS_WORD, sizeof want);
        if (want == old)
            break; /* already so: nothing to write */
        /* One store of flags and checksum together: a reader sees the old pair or the
         * new one, never new flags with the old checksum (which would be ECORRUPT). The
         * swap, rather than a plain store, keeps flags another process set meanwhile. */
        if (__atomic_compare_exchange_n(word, &old, want, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    m->hdr.flags = h.flags;
    m->hdr.checksum = h.checksum;
    return 0;
}

/* Validates the segment open at fd and maps it read-write. Does not close fd. */
int mproc__segment_map_fd(int fd, mproc_dtype expected, struct mproc__mapping *out)
{
    if (expected != MPROC_DTYPE_ANY && !mproc__dtype_valid((uint32_t)expected))
        return MPROC_EDTYPE;
    struct stat st;
    struct mproc__header h;
    int rc = mproc__segment_read_header(fd, expected, &h, &st);
    if (rc != 0)
        return rc;
    size_t bytes = (size_t)(h.data_offset + h.data_bytes);
    void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return mproc__neg_errno(errno);
    out->base = base;
    out->map_bytes = bytes;
    out->data = (char *)base + h.data_offset;
    out->hdr = h;
    return 0;
}

/* The instance id of a raw segment, from its inode: a segment has no header to carry a
 * random one, and the inode is what stays the same for everyone who opens the same
 * segment and differs for a new segment that reuses the name (while the old one is
 * mapped, its inode number cannot be given to another). Never 0 (0: "do not cache"). */
static uint64_t raw_instance_id(const struct stat *st)
{
    uint64_t z = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15u ^ (uint64_t)st->st_dev;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u; /* splitmix64's finalizer */
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return z != 0 ? z : 1;
}

/* Maps the first `bytes` bytes of a segment that has no mproc header (a raw segment,
 * e.g. one that Python's SharedMemory made): a regular file of ours at least that long.
 * Only hdr.instance_id of the mapping is filled in (raw_instance_id). Does not close fd. */
int mproc__segment_map_raw(int fd, uint64_t bytes, struct mproc__mapping *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return mproc__neg_errno(errno);
    if (!S_ISREG(st.st_mode))
        return MPROC_EBADMAGIC;
    if (st.st_uid != geteuid())
        return MPROC_EACCES;
    if ((uint64_t)st.st_size < bytes)
        return MPROC_ETRUNCATED;
    if (bytes > (uint64_t)SIZE_MAX)
        return MPROC_EOVERFLOW;
    /* mmap refuses 0 bytes; an empty array still gets a (never touched) page, so that
     * its data pointer is not NULL, like every other array's. */
    size_t len = bytes != 0 ? (size_t)bytes : 1;
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return mproc__neg_errno(errno);
    memset(&out->hdr, 0, sizeof out->hdr);
    out->hdr.instance_id = raw_instance_id(&st);
    out->base = out->data = base;
    out->map_bytes = len;
    return 0;
}

int mproc__segment_unmap(struct mproc__mapping *m)
{
    if (m->base == NULL)
        return 0;
    int rc = munmap(m->base, m->map_bytes) == 0 ? 0 : mproc__neg_errno(errno);
    m->base = m->data = NULL;
    return rc;
}
