/*
 * fuzz_attach.c - libFuzzer harness for segment attach and header validation.
 *
 * Each input becomes a POSIX shm segment (/dev/shm/mproc-fuzz-<pid>), which is then
 * attached with mproc_array_attach and inspected with mproc_segment_stat. Neither may
 * crash, hang or read outside the segment (ASan, and a SIGBUS if the data were mapped
 * beyond the file); when attach succeeds, every byte of the data is read and the first
 * and last are written, and stat must agree with attach on what the segment is.
 *
 * Input layout (so that the fuzzer controls sizes without megabytes of input):
 *   byte 0      flags: bit 0  recompute the header checksum over the forged header
 *                     bit 1  truncate/extend the segment to the size in bytes 1..2
 *                     bits 4..7 the dtype attach expects (0 = any, 11..15 invalid)
 *   bytes 1..2  size in 256-byte units (little endian), used with bit 1: 0 .. 16 MiB
 *   bytes 3..   the segment's content from offset 0 (the header, then anything)
 * Inputs shorter than 3 bytes are a segment with no content.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mproc.h"

static char name[64];

/* FNV-1a over the first 76 bytes, as the header's checksum (mproc.h). */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(name, sizeof name, "mproc-fuzz-%ld", (long)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags = size > 0 ? data[0] : 0;
    size_t want_size = size > 2 ? ((size_t)data[1] | (size_t)data[2] << 8) * 256u : 0;
    const uint8_t *content = size > 3 ? data + 3 : data;
    size_t len = size > 3 ? size - 3 : 0;

    uint8_t *copy = NULL;
    if ((flags & 1) && len >= 80) { /* a valid checksum: get past it, to the deeper checks */
        copy = malloc(len);
        if (copy == NULL)
            return 0;
        memcpy(copy, content, len);
        uint32_t sum = fnv1a(copy, 76);
        memcpy(copy + 76, &sum, sizeof sum);
        content = copy;
    }

    char shm_name[72];
    snprintf(shm_name, sizeof shm_name, "/%s", name);
    int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("fuzz_attach: shm_open");
        abort();
    }
    if (write_all(fd, content, len) != 0 || ((flags & 2) && ftruncate(fd, (off_t)want_size) != 0)) {
        perror("fuzz_attach: write");
        abort();
    }
    close(fd);
    free(copy);

    mproc_dtype expected = (mproc_dtype)(flags >> 4);
    mproc_array *a = NULL;
    int rc = mproc_array_attach(&a, name, expected);
    mproc_segment_info info;
    int src = mproc_segment_stat(name, &info);
    if (rc == 0) {
        /* Touch everything the header claims: out of the file would be a SIGBUS. */
        size_t n = mproc_array_length(a), es = mproc_dtype_size(mproc_array_dtype(a));
        volatile uint8_t *d = mproc_array_data(a);
        uint8_t sum = 0;
        for (size_t i = 0; i < n * es; i++)
            sum = (uint8_t)(sum + d[i]);
        if (n > 0) {
            d[0] = sum;
            d[n * es - 1] = sum;
        }
        /* stat validates the same header: it must agree. */
        if (src != 0 || info.dtype != mproc_array_dtype(a) || info.length != n ||
            info.elem_size != es || info.data_bytes != n * es) {
            fprintf(stderr, "fuzz_attach: attach ok but stat says %d (%s)\n", src,
                    mproc_strerror(src));
            abort();
        }
        mproc_array_close(a);
    } else {
        if (a != NULL) {
            fprintf(stderr, "fuzz_attach: attach failed (%d) but set its out-parameter\n", rc);
            abort();
        }
        /* With any dtype accepted, attach and stat fail for the same reasons. */
        if (expected == MPROC_DTYPE_ANY && src == 0) {
            fprintf(stderr, "fuzz_attach: stat ok but attach says %d (%s)\n", rc,
                    mproc_strerror(rc));
            abort();
        }
    }
    if (mproc_strerror(rc) == NULL || mproc_strerror(src) == NULL)
        abort();
    shm_unlink(shm_name);
    return 0;
}
