/*
 * array.c - typed arrays in shared memory: create (named or anonymous), attach (to an
 * mproc segment, or to a raw one without a header), close.
 *
 * Named arrays are POSIX shm objects (shm_open, O_EXCL, mode 0600). Anonymous arrays are
 * memfds: they have no name to leak, and the memfd stays open in the creating process so
 * that its pool workers can open it through /proc/<pid>/fd/<fd>.
 */
#include "internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Memory that can still back shared pages: MemAvailable + SwapFree, in bytes. */
static uint64_t memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return UINT64_MAX; /* cannot tell: let fallocate decide */
    char line[128];
    uint64_t kb, total = 0;
    bool found = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemAvailable: %" SCNu64, &kb) == 1 ||
            sscanf(line, "SwapFree: %" SCNu64, &kb) == 1) {
            total += kb;
            found = true;
        }
    }
    fclose(f);
    return found ? total * 1024u : UINT64_MAX;
}

/* Reserves the segment's memory now: a full /dev/shm is ENOSPC here, not SIGBUS later.
 * A memfd has no size limit of its own, and fallocate would take pages until the OOM
 * killer picks a victim: sizes beyond what the machine has left are refused first. */
static int reserve(int fd, uint64_t bytes)
{
    if (bytes > memory_available())
        return MPROC_ENOMEM;
    int rc;
    do {
        rc = posix_fallocate(fd, 0, (off_t)bytes);
    } while (rc == EINTR);
    if (rc == EFBIG)
        return MPROC_ENOSPC;
    if (rc == EOPNOTSUPP || rc == EINVAL) /* no fallocate on this fs: size it at least */
        return ftruncate(fd, (off_t)bytes) == 0 ? 0 : mproc__neg_errno(errno);
    return rc == 0 ? 0 : mproc__neg_errno(rc);
}

static int write_header(int fd, mproc_dtype dtype, size_t length, size_t elem_size)
{
    struct mproc__header h;
    memset(&h, 0, sizeof h);
    h.version = MPROC_FORMAT_VERSION;
    h.header_used = MPROC__HEADER_USED;
    h.dtype = (uint32_t)dtype;
    h.elem_size = (uint32_t)elem_size;
    h.length = length;
    h.data_offset = mproc__data_offset();
    h.data_bytes = (uint64_t)length * elem_size;
    h.instance_id = mproc__random_u64();
    h.creator_pid = getpid();
    if (mproc__proc_start_time(getpid(), &h.creator_start) != 0)
        h.creator_start = 0;
    memcpy(h.magic, MPROC__MAGIC, sizeof h.magic);
    h.checksum = mproc__header_checksum(&h);
    ssize_t n;
    do {
        n = pwrite(fd, &h, sizeof h, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof h)
        return n < 0 ? mproc__neg_errno(errno) : MPROC_ENOSPC;
    return 0;
}

static int array_from_fd(mproc_array **out, int fd, const char *name, mproc_dtype expected)
{
    mproc_array *a = calloc(1, sizeof *a);
    if (a == NULL)
        return MPROC_ENOMEM;
    a->fd = -1;
    if (name != NULL && (a->name = strdup(name)) == NULL) {
        free(a);
        return MPROC_ENOMEM;
    }
    int rc = mproc__segment_map_fd(fd, expected, &a->map);
    if (rc != 0) {
        free(a->name);
        free(a);
        return rc;
    }
    a->dtype = (mproc_dtype)a->map.hdr.dtype;
    a->elem_size = a->map.hdr.elem_size;
    a->length = (size_t)a->map.hdr.length;
    *out = a;
    return 0;
}

MPROC_API int mproc_array_create(mproc_array **out, const char *name, mproc_dtype dtype,
                                 size_t length)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (!mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    char shm_name[MPROC_NAME_MAX + 2];
    if (name != NULL) {
        int rc = mproc__name_normalize(name, shm_name);
        if (rc != 0)
            return rc;
    }
    size_t es = mproc_dtype_size(dtype), data_bytes, total;
    if (__builtin_mul_overflow(length, es, &data_bytes) ||
        __builtin_add_overflow(data_bytes, mproc__data_offset(), &total) ||
        total > (size_t)INT64_MAX)
        return MPROC_EOVERFLOW;

    int fd = name ? shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                  : memfd_create("mproc-array", MFD_CLOEXEC);
    if (fd < 0)
        return mproc__neg_errno(errno);
    /* 0600 whatever the umask: a umask like 0277 must not lock out the creator's
     * own attaches. */
    int rc = fchmod(fd, 0600) == 0 ? 0 : mproc__neg_errno(errno);
    if (rc == 0)
        rc = reserve(fd, total);
    if (rc == 0)
        rc = write_header(fd, dtype, length, es);
    if (rc == 0)
        rc = array_from_fd(out, fd, name ? shm_name + 1 : NULL, dtype);
    if (rc != 0) {
        if (name != NULL)
            shm_unlink(shm_name);
        close(fd);
        return rc;
    }
    if (name != NULL)
        close(fd);
    else
        (*out)->fd = fd;
    return 0;
}

MPROC_API int mproc_array_create_from(mproc_array **out, const char *name, mproc_dtype dtype,
                                      const void *values, size_t length)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (values == NULL && length > 0)
        return MPROC_EINVAL;
    int rc = mproc_array_create(out, name, dtype, length);
    if (rc == 0 && length > 0)
        memcpy((*out)->map.data, values, length * (*out)->elem_size);
    return rc;
}

MPROC_API int mproc_array_attach(mproc_array **out, const char *name, mproc_dtype expected)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    char shm_name[MPROC_NAME_MAX + 2];
    int rc = mproc__name_normalize(name, shm_name);
    if (rc != 0)
        return rc;
    if (expected != MPROC_DTYPE_ANY && !mproc__dtype_valid((uint32_t)expected))
        return MPROC_EDTYPE;
    int fd = shm_open(shm_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0)
        return errno == ELOOP ? MPROC_EBADMAGIC : mproc__neg_errno(errno); /* a symlink */
    rc = array_from_fd(out, fd, shm_name + 1, expected);
    close(fd);
    return rc;
}

MPROC_API int mproc_array_attach_raw(mproc_array **out, const char *name, mproc_dtype dtype,
                                     size_t length)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    char shm_name[MPROC_NAME_MAX + 2];
    int rc = mproc__name_normalize(name, shm_name);
    if (rc != 0)
        return rc;
    if (!mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    size_t es = mproc_dtype_size(dtype), bytes;
    if (__builtin_mul_overflow(length, es, &bytes) || bytes > (size_t)INT64_MAX)
        return MPROC_EOVERFLOW;
    mproc_array *a = calloc(1, sizeof *a);
    if (a == NULL || (a->name = strdup(shm_name + 1)) == NULL) {
        free(a);
        return MPROC_ENOMEM;
    }
    int fd = shm_open(shm_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0)
        rc = errno == ELOOP ? MPROC_EBADMAGIC : mproc__neg_errno(errno); /* a symlink */
    else
        rc = mproc__segment_map_raw(fd, bytes, &a->map);
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        free(a->name);
        free(a);
        return rc;
    }
    /* The header fields that pools and accessors read, as if the data followed one. */
    a->map.hdr.dtype = (uint32_t)dtype;
    a->map.hdr.elem_size = (uint32_t)es;
    a->map.hdr.length = length;
    a->map.hdr.data_bytes = bytes;
    a->dtype = dtype;
    a->elem_size = es;
    a->length = length;
    a->fd = -1;
    a->raw = true;
    *out = a;
    return 0;
}

MPROC_API int mproc_array_close(mproc_array *array)
{
    if (array == NULL)
        return 0;
    mproc__pools_forget(array->map.hdr.instance_id);
    int rc = mproc__segment_unmap(&array->map);
    if (array->fd >= 0)
        close(array->fd);
    free(array->name);
    free(array);
    return rc;
}

MPROC_API int mproc_array_unlink(const char *name)
{
    char shm_name[MPROC_NAME_MAX + 2];
    int rc = mproc__name_normalize(name, shm_name);
    if (rc != 0)
        return rc;
    return shm_unlink(shm_name) == 0 ? 0 : mproc__neg_errno(errno);
}

MPROC_API int mproc_array_set_keep(mproc_array *array, int keep)
{
    /* An anonymous array dies with its last user and a raw one has no header: there is
     * nothing for a flag to keep, and offset 72 of a raw segment is someone's data. */
    if (array == NULL || array->name == NULL || array->raw)
        return MPROC_EINVAL;
    return mproc__header_update_flags(&array->map, keep ? MPROC_ARRAY_KEEP : 0,
                                      keep ? 0 : MPROC_ARRAY_KEEP);
}

MPROC_API void *mproc_array_data(const mproc_array *array)
{
    return array ? array->map.data : NULL;
}

MPROC_API size_t mproc_array_length(const mproc_array *array)
{
    return array ? array->length : 0;
}

MPROC_API mproc_dtype mproc_array_dtype(const mproc_array *array)
{
    return array ? array->dtype : MPROC_DTYPE_ANY;
}

MPROC_API const char *mproc_array_name(const mproc_array *array)
{
    return array ? array->name : NULL;
}
