/*
 * test_keep.c - arrays made to outlive their creator: mproc_array_set_keep, the
 * MPROC_ARRAY_KEEP header flag, and that mproc_segment_reclaim leaves kept arrays alone.
 *
 * Covers: the flag and a valid checksum in the header after setting and clearing it
 * (idempotent; from the creator's handle and from another attach); bad handles
 * (anonymous, raw, a header rewritten under the handle); reserved flag bits (accepted
 * by attach and stat, left as they are by set_keep); that reclaim skips a kept array of
 * a dead creator while it removes one that is not kept, and that an explicit unlink
 * still removes a kept one; and that attachers never see a torn header while other
 * processes toggle the flag.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* The header as it is in /dev/shm now. */
static void read_header(const char *name, uint8_t hdr[TU_HDR_LEN])
{
    ck_assert_int_eq(tu_shm_read(name, 0, hdr, TU_HDR_LEN), 0);
}

/* Asserts the flags in the header of `name`, and that its checksum is valid. */
static void assert_flags(const char *name, uint32_t want)
{
    uint8_t hdr[TU_HDR_LEN];
    read_header(name, hdr);
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_FLAGS), want);
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_CHECKSUM), tu_fnv1a(hdr, TU_OFF_CHECKSUM));
    mproc_segment_info s;
    tu_assert_rc(mproc_segment_stat(name, &s), 0);
    ck_assert_uint_eq(s.flags, want);
    ck_assert_int_eq(s.keep, (want & MPROC_ARRAY_KEEP) != 0);
}

/* Rewrites the flags of a header in /dev/shm, checksum fixed. */
static void forge_flags(const char *name, uint32_t flags)
{
    uint8_t hdr[TU_HDR_LEN];
    read_header(name, hdr);
    tu_put_u32(hdr, TU_OFF_FLAGS, flags);
    tu_fix_checksum(hdr);
    ck_assert_int_eq(tu_shm_write(name, 0, hdr, sizeof hdr), 0);
}

/* Creates a named int32 x 100 array from a child, which keeps it or not, fills it and
 * exits: its creator is dead when this returns. */
static void create_dead(const char *name, bool keep)
{
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        mproc_array *a = NULL;
        int rc = mproc_array_create(&a, name, MPROC_INT32, 100);
        if (rc == 0)
            ((int32_t *)mproc_array_data(a))[99] = 99;
        if (rc == 0 && keep)
            rc = mproc_array_set_keep(a, 1);
        mproc_array_close(a);
        _exit(rc == 0 ? 0 : 1);
    }
    tu_assert_child_ok(pid, 10);
}

START_TEST(test_set_and_clear)
{
    char name[TU_NAME_LEN];
    tu_name(name, "keep");
    mproc_array *a = NULL, *b = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, 10), 0);
    assert_flags(name, 0);
    uint8_t before[TU_HDR_LEN], after[TU_HDR_LEN];
    read_header(name, before);

    tu_assert_rc(mproc_array_set_keep(a, 1), 0);
    assert_flags(name, MPROC_ARRAY_KEEP);
    read_header(name, after);
    /* only the flags and the checksum changed */
    ck_assert_int_eq(memcmp(before, after, TU_OFF_FLAGS), 0);
    tu_assert_rc(mproc_array_set_keep(a, 42), 0); /* any non-zero keeps; idempotent */
    uint8_t again[TU_HDR_LEN];
    read_header(name, again);
    ck_assert_int_eq(memcmp(after, again, TU_HDR_LEN), 0);

    /* a kept array attaches as any other, and the data is untouched */
    ((int32_t *)mproc_array_data(a))[3] = 33;
    tu_assert_rc(mproc_array_attach(&b, name, MPROC_INT32), 0);
    ck_assert_int_eq(((int32_t *)mproc_array_data(b))[3], 33);

    /* another handle clears it, and the first one sets it again (its copy of the
     * header is not stale: the flags are taken from shared memory) */
    tu_assert_rc(mproc_array_set_keep(b, 0), 0);
    assert_flags(name, 0);
    read_header(name, after);
    ck_assert_int_eq(memcmp(before, after, TU_HDR_LEN), 0);
    tu_assert_rc(mproc_array_set_keep(a, 1), 0);
    assert_flags(name, MPROC_ARRAY_KEEP);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_attach(&b, name, MPROC_DTYPE_ANY), 0);
    tu_assert_rc(mproc_array_close(b), 0);

    /* an explicit unlink removes a kept array */
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

START_TEST(test_bad_handles)
{
    tu_assert_rc(mproc_array_set_keep(NULL, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_array_set_keep(NULL, 0), MPROC_EINVAL);

    mproc_array *anon = NULL;
    tu_assert_rc(mproc_array_create(&anon, NULL, MPROC_INT32, 10), 0);
    tu_assert_rc(mproc_array_set_keep(anon, 1), MPROC_EINVAL);
    mproc_array_close(anon);

    /* a raw segment has no header: bytes 72..79 are data and stay as they are */
    char raw[TU_NAME_LEN];
    uint8_t content[128], now[128];
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(tu_shm_create_raw(tu_name(raw, "raw"), sizeof content, content,
                                       sizeof content), 0);
    mproc_array *r = NULL;
    tu_assert_rc(mproc_array_attach_raw(&r, raw, MPROC_UINT8, sizeof content), 0);
    tu_assert_rc(mproc_array_set_keep(r, 1), MPROC_EINVAL);
    mproc_array_close(r);
    ck_assert_int_eq(tu_shm_read(raw, 0, now, sizeof now), 0);
    ck_assert_int_eq(memcmp(content, now, sizeof now), 0);
    ck_assert_int_eq(tu_shm_unlink(raw), 0);

    /* the header was rewritten under the handle (a new instance id, checksum fixed):
     * set_keep refuses rather than sign a header it did not validate */
    char name[TU_NAME_LEN];
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, tu_name(name, "rewritten"), MPROC_INT32, 10), 0);
    uint8_t hdr[TU_HDR_LEN], after[TU_HDR_LEN];
    read_header(name, hdr);
    tu_put_u64(hdr, TU_OFF_INSTANCE, tu_get_u64(hdr, TU_OFF_INSTANCE) ^ 1);
    tu_fix_checksum(hdr);
    ck_assert_int_eq(tu_shm_write(name, 0, hdr, sizeof hdr), 0);
    tu_assert_rc(mproc_array_set_keep(a, 1), MPROC_ECORRUPT);
    read_header(name, after);
    ck_assert_int_eq(memcmp(hdr, after, TU_HDR_LEN), 0); /* nothing written */
    mproc_array_close(a);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

/* Bits other than MPROC_ARRAY_KEEP are reserved: accepted, reported, left alone. */
START_TEST(test_reserved_bits)
{
    char name[TU_NAME_LEN];
    tu_name(name, "reserved");
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT16, 10), 0);
    mproc_array_close(a);
    forge_flags(name, 0x80000006u);
    assert_flags(name, 0x80000006u);
    tu_assert_rc(mproc_array_attach(&a, name, MPROC_INT16), 0);
    tu_assert_rc(mproc_array_set_keep(a, 1), 0);
    assert_flags(name, 0x80000007u);
    tu_assert_rc(mproc_array_set_keep(a, 0), 0);
    assert_flags(name, 0x80000006u);
    mproc_array_close(a);
    /* reserved bits do not keep an array: only MPROC_ARRAY_KEEP does */
    uint8_t hdr[TU_HDR_LEN];
    read_header(name, hdr);
    tu_put_u64(hdr, TU_OFF_PID, 0x7ffffffd); /* a creator that does not exist */
    tu_fix_checksum(hdr);
    ck_assert_int_eq(tu_shm_write(name, 0, hdr, sizeof hdr), 0);
    forge_flags(name, 0x80000007u);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), MPROC_EBUSY);
    forge_flags(name, 0x80000006u);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), 0);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

START_TEST(test_reclaim_skips_kept)
{
    char kept[TU_NAME_LEN], plain[TU_NAME_LEN];
    tu_name(kept, "kept");
    tu_name(plain, "plain");
    create_dead(kept, true);
    create_dead(plain, false);

    mproc_segment_info *list = NULL;
    size_t n = 0;
    int seen = 0;
    tu_assert_rc(mproc_segment_list(&list, &n), 0);
    for (size_t i = 0; i < n; i++) {
        bool is_kept = strcmp(list[i].name, kept) == 0;
        if (!is_kept && strcmp(list[i].name, plain) != 0)
            continue;
        seen++;
        ck_assert_int_eq(list[i].creator_alive, 0);
        ck_assert_int_eq(list[i].keep, is_kept);
        ck_assert_uint_eq(list[i].flags, is_kept ? MPROC_ARRAY_KEEP : 0);
    }
    mproc_segment_list_free(list);
    ck_assert_int_eq(seen, 2);

    tu_assert_rc(mproc_segment_reclaim(kept, NULL), MPROC_EBUSY);
    ck_assert(tu_shm_exists(kept));
    mproc_segment_info s;
    memset(&s, 0, sizeof s);
    tu_assert_rc(mproc_segment_reclaim(plain, &s), 0);
    ck_assert(!tu_shm_exists(plain));
    ck_assert_str_eq(s.name, plain);
    ck_assert_int_eq(s.keep, 0);

    /* the kept one is whole, and reclaimable once it is no longer kept */
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach(&a, kept, MPROC_INT32), 0);
    ck_assert_int_eq(((int32_t *)mproc_array_data(a))[99], 99);
    tu_assert_rc(mproc_array_set_keep(a, 0), 0);
    mproc_array_close(a);
    tu_assert_rc(mproc_segment_reclaim(kept, NULL), 0);
    ck_assert(!tu_shm_exists(kept));
}
END_TEST

/* Two processes toggle the flag as fast as they can while this one attaches, stats
 * and reads the flags word straight from its mapping: never a header that fails
 * validation. */
START_TEST(test_concurrent_toggles)
{
    enum { WRITERS = 2, ROUNDS = 3000 };
    char name[TU_NAME_LEN];
    tu_name(name, "toggle");
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, 16), 0);
    uint8_t base[TU_HDR_LEN];
    read_header(name, base);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t writers[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        writers[w] = tu_fork();
        ck_assert_int_ge(writers[w], 0);
        if (writers[w] == 0) {
            close(ready[0]);
            mproc_array *mine = NULL;
            if (mproc_array_attach(&mine, name, MPROC_INT32) != 0 ||
                write(ready[1], "r", 1) != 1)
                _exit(1);
            for (unsigned i = (unsigned)w;; i++) /* until killed */
                if (mproc_array_set_keep(mine, (int)(i & 1)) != 0)
                    _exit(1);
        }
    }
    close(ready[1]);
    char c;
    for (int w = 0; w < WRITERS; w++)
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);

    /* the mapped header: bytes 0..71 stay, the word at 72 must always be a valid pair */
    uint64_t data_offset = tu_get_u64(base, TU_OFF_DATA_OFFSET);
    const char *hdr_map = (const char *)mproc_array_data(a) - data_offset;
    const uint64_t *word = (const uint64_t *)(const void *)(hdr_map + TU_OFF_FLAGS);
    int torn = 0, bad_attach = 0, bad_stat = 0;
    for (int i = 0; i < ROUNDS; i++) {
        uint8_t hdr[TU_HDR_LEN];
        memcpy(hdr, base, TU_OFF_FLAGS);
        uint64_t v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        memcpy(hdr + TU_OFF_FLAGS, &v, sizeof v);
        if (tu_get_u32(hdr, TU_OFF_CHECKSUM) != tu_fnv1a(hdr, TU_OFF_CHECKSUM) ||
            (tu_get_u32(hdr, TU_OFF_FLAGS) & ~MPROC_ARRAY_KEEP) != 0)
            torn++;
        mproc_array *b = NULL;
        if (mproc_array_attach(&b, name, MPROC_INT32) != 0)
            bad_attach++;
        mproc_array_close(b);
        mproc_segment_info s;
        if (mproc_segment_stat(name, &s) != 0)
            bad_stat++;
    }
    int stopped = 0; /* writers that stopped on their own: set_keep failed */
    for (int w = 0; w < WRITERS; w++)
        if (waitpid(writers[w], NULL, WNOHANG) == writers[w])
            stopped++;
        else
            kill(writers[w], SIGKILL); /* killed mid-toggle: the header stays valid */
    for (int w = 0; w < WRITERS; w++)
        tu_wait(writers[w], 10);
    ck_assert_msg(torn == 0 && bad_attach == 0 && bad_stat == 0 && stopped == 0,
                  "%d torn words, %d failed attaches, %d failed stats in %d rounds; "
                  "%d writers failed", torn, bad_attach, bad_stat, (int)ROUNDS, stopped);
    uint8_t hdr[TU_HDR_LEN];
    read_header(name, hdr);
    ck_assert_uint_eq(tu_get_u32(hdr, TU_OFF_CHECKSUM), tu_fnv1a(hdr, TU_OFF_CHECKSUM));
    mproc_array_close(a);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

int main(void)
{
    tu_init();
    Suite *s = suite_create("keep");
    TCase *tc = tcase_create("keep");
    tu_tcase_defaults(tc, 30);
    tcase_add_test(tc, test_set_and_clear);
    tcase_add_test(tc, test_bad_handles);
    tcase_add_test(tc, test_reserved_bits);
    tcase_add_test(tc, test_reclaim_skips_kept);
    tcase_add_test(tc, test_concurrent_toggles);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
