/*
 * internal.h - what the library's .c files share and nobody else sees.
 * Internal functions are mproc__ and hidden (the library is built with
 * -fvisibility=hidden; only MPROC_API symbols are exported).
 */
#ifndef MPROC_INTERNAL_H
#define MPROC_INTERNAL_H

#include "mproc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define MPROC__MAGIC "MPROCARR"
#define MPROC__HEADER_USED 80u
#define MPROC__CACHELINE 64

/* The on-disk (in-shm) header of an array segment; offsets are documented in mproc.h. */
struct mproc__header {
    char magic[8];
    uint32_t version;
    uint32_t header_used;
    uint32_t dtype;
    uint32_t elem_size;
    uint64_t length;
    uint64_t data_offset;
    uint64_t data_bytes;
    uint64_t instance_id;
    int64_t creator_pid;
    uint64_t creator_start;
    uint32_t flags;
    uint32_t checksum;
};

_Static_assert(sizeof(struct mproc__header) == MPROC__HEADER_USED, "header layout");
_Static_assert(offsetof(struct mproc__header, checksum) == 76, "header layout");

/* A mapping of a validated segment. */
struct mproc__mapping {
    void *base;        /* start of the segment (the header) */
    size_t map_bytes;  /* bytes mapped */
    void *data;        /* base + data_offset */
    struct mproc__header hdr; /* copy of the validated header */
};

struct mproc_array {
    struct mproc__mapping map;
    mproc_dtype dtype;
    size_t elem_size;
    size_t length;
    int fd;      /* memfd of an anonymous array (kept: pools reach it through /proc), else -1 */
    char *name;  /* without the leading '/', NULL if anonymous */
    bool raw;    /* attached with mproc_array_attach_raw: no header, data at offset 0 */
};

/* segment.c */
int mproc__name_normalize(const char *name, char out[MPROC_NAME_MAX + 2]);
size_t mproc__data_offset(void);
uint32_t mproc__header_checksum(const struct mproc__header *hdr);
int mproc__proc_start_time(pid_t pid, uint64_t *out);
uint64_t mproc__random_u64(void);
int mproc__header_check(const struct mproc__header *h, size_t got, uint64_t size,
                        mproc_dtype expected);
struct stat;
int mproc__segment_read_header(int fd, mproc_dtype expected, struct mproc__header *h,
                               struct stat *st);
int mproc__segment_map_fd(int fd, mproc_dtype expected, struct mproc__mapping *out);
int mproc__segment_map_raw(int fd, uint64_t bytes, struct mproc__mapping *out);
int mproc__header_update_flags(struct mproc__mapping *m, uint32_t set, uint32_t clear);
int mproc__segment_unmap(struct mproc__mapping *m);

/* dtype.c */
bool mproc__dtype_valid(uint32_t dtype);

/* kernels.c: the built-in kernels' saving twins, for the exactly-once commit of an
 * in-place chunk in one pass (see MPROC__SAVING in pool_internal.h). A twin squares (or
 * ...) data[0, n) in place, and before it changes any element it has copied the block
 * that holds it to save[] and stored in *saved how many elements save[] holds. */
typedef int (*mproc__saving_kernel)(void *data, void *save, size_t n, const void *ctx,
                                    _Atomic uint64_t *saved);
/* Elements per block of a saving twin: 4 cache lines, copied, counted, then changed. */
#define MPROC__SAVE_BLOCK_BYTES 256u
/* The twin of a built-in kernel, or NULL for any other kernel. */
mproc__saving_kernel mproc__kernel_saving(mproc_kernel kernel, uint32_t dtype);

/* error.c */
static inline int mproc__neg_errno(int e) { return e > 0 ? -e : MPROC_EINVAL; }

/* pool.c: called by mproc_array_close so that pools of this process drop their workers'
 * cached mappings of an array that is going away. */
void mproc__pools_forget(uint64_t instance_id);

/* time helpers (pool.c) */
uint64_t mproc__now_ns(void);

#endif
