/*
 * test_segments.c - segment inspection and reclaiming (issue 4, item 3):
 * mproc_segment_stat, mproc_segment_list, mproc_segment_reclaim.
 *
 * Covers: every field of a fresh segment; a dead creator (reaped, and a zombie); a live
 * creator; a reused pid (right pid, wrong start time); a header without a start time;
 * impossible pids; that the list holds only our valid mproc segments (not junk files,
 * FIFOs, symlinks, directories, truncated or corrupt segments, nor another user's
 * segments), sorted by name; that reclaim removes only segments of dead creators and
 * only ours; and that a segment in use survives its reclaiming for its users.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define NOBODY 65534

/* Start time of pid from /proc/PID/stat field 22, or 0. */
static uint64_t start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; p != NULL && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static mproc_array *make_named(const char *name, size_t n)
{
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, n), 0);
    return a;
}

/* Creates a named array from a child that then exits; reaps the child (reap = true) or
 * leaves it a zombie. Returns the child's pid. */
static pid_t create_from_child(const char *name, bool reap)
{
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        mproc_array *a = NULL;
        int rc = mproc_array_create(&a, name, MPROC_FLOAT64, 1000);
        mproc_array_close(a);
        _exit(rc == 0 ? 0 : 1);
    }
    if (reap) {
        tu_assert_child_ok(pid, 10);
    } else {
        /* wait until it is a zombie, without reaping it */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
        ck_assert_int_eq(si.si_status, 0);
    }
    return pid;
}

/* Rewrites the creator fields of a segment's header (checksum fixed). */
static void forge_creator(const char *name, int64_t pid, uint64_t start)
{
    uint8_t hdr[TU_HDR_LEN];
    ck_assert_int_eq(tu_shm_read(name, 0, hdr, sizeof hdr), 0);
    tu_put_u64(hdr, TU_OFF_PID, (uint64_t)pid);
    tu_put_u64(hdr, TU_OFF_START_TIME, start);
    tu_fix_checksum(hdr);
    ck_assert_int_eq(tu_shm_write(name, 0, hdr, sizeof hdr), 0);
}

static bool listed(const mproc_segment_info *list, size_t n, const char *name,
                   mproc_segment_info *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) {
            if (out)
                *out = list[i];
            return true;
        }
    return false;
}

START_TEST(test_stat_fields)
{
    char name[TU_NAME_LEN];
    tu_name(name, "stat");
    mproc_array *a = make_named(name, 12345);
    mproc_segment_info s;
    memset(&s, 0xAB, sizeof s);
    tu_assert_rc(mproc_segment_stat(name, &s), 0);
    ck_assert_str_eq(s.name, name);
    ck_assert_int_eq(s.owner, geteuid());
    ck_assert_uint_eq(s.mode, 0600);
    ck_assert_uint_eq(s.dtype, MPROC_INT32);
    ck_assert_uint_eq(s.elem_size, 4);
    ck_assert_uint_eq(s.length, 12345);
    ck_assert_uint_eq(s.data_offset, MPROC_DATA_OFFSET);
    ck_assert_uint_eq(s.data_bytes, 12345 * 4);
    ck_assert_uint_eq(s.size, MPROC_DATA_OFFSET + 12345 * 4);
    ck_assert_uint_eq(s.version, MPROC_FORMAT_VERSION);
    ck_assert_uint_eq(s.flags, 0);
    ck_assert_int_eq(s.creator_pid, getpid());
    ck_assert_uint_eq(s.creator_start, start_time(getpid()));
    ck_assert_int_eq(s.creator_alive, 1);
    uint8_t hdr[TU_HDR_LEN];
    ck_assert_int_eq(tu_shm_read(name, 0, hdr, sizeof hdr), 0);
    ck_assert_uint_eq(s.instance_id, tu_get_u64(hdr, TU_OFF_INSTANCE));

    /* With and without the leading '/'. */
    char slashed[TU_NAME_LEN + 1];
    snprintf(slashed, sizeof slashed, "/%s", name);
    mproc_segment_info s2;
    tu_assert_rc(mproc_segment_stat(slashed, &s2), 0);
    ck_assert_str_eq(s2.name, name);

    /* Stat does not disturb users: the data is unchanged, attach still works. */
    ((int32_t *)mproc_array_data(a))[7] = 49;
    tu_assert_rc(mproc_segment_stat(name, &s2), 0);
    ck_assert_int_eq(((int32_t *)mproc_array_data(a))[7], 49);
    mproc_array_close(a);
    tu_assert_rc(mproc_array_unlink(name), 0);
    tu_assert_rc(mproc_segment_stat(name, &s2), MPROC_ENOENT);
}
END_TEST

START_TEST(test_dead_creator_reaped)
{
    char name[TU_NAME_LEN];
    tu_name(name, "dead");
    pid_t child = create_from_child(name, true);
    mproc_segment_info s;
    tu_assert_rc(mproc_segment_stat(name, &s), 0);
    ck_assert_int_eq(s.creator_pid, child);
    ck_assert_uint_eq(s.dtype, MPROC_FLOAT64);
    ck_assert_int_eq(s.creator_alive, 0);
    mproc_segment_info removed;
    tu_assert_rc(mproc_segment_reclaim(name, &removed), 0);
    ck_assert_str_eq(removed.name, name);
    ck_assert_int_eq(removed.creator_pid, child);
    ck_assert(!tu_shm_exists(name));
    tu_assert_rc(mproc_segment_reclaim(name, NULL), MPROC_ENOENT);
}
END_TEST

START_TEST(test_zombie_creator_is_dead)
{
    char name[TU_NAME_LEN];
    tu_name(name, "zombie");
    pid_t child = create_from_child(name, false);
    mproc_segment_info s;
    tu_assert_rc(mproc_segment_stat(name, &s), 0);
    ck_assert_int_eq(s.creator_pid, child);
    ck_assert_int_eq(s.creator_alive, 0);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), 0);
    ck_assert(!tu_shm_exists(name));
    tu_assert_child_ok(child, 5);
}
END_TEST

START_TEST(test_live_creator_kept)
{
    char name[TU_NAME_LEN];
    tu_name(name, "live");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = tu_fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        mproc_array *a = NULL;
        char ok = mproc_array_create(&a, name, MPROC_UINT8, 10) == 0 ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    char ok = 0;
    ck_assert_int_eq(read(fds[0], &ok, 1), 1);
    close(fds[0]);
    ck_assert_int_eq(ok, 'y');
    mproc_segment_info s;
    tu_assert_rc(mproc_segment_stat(name, &s), 0);
    ck_assert_int_eq(s.creator_pid, child);
    ck_assert_int_eq(s.creator_alive, 1);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), MPROC_EBUSY);
    ck_assert(tu_shm_exists(name));
    /* once it dies, the same segment is reclaimable */
    kill(child, SIGKILL);
    tu_wait(child, 5);
    tu_assert_rc(mproc_segment_stat(name, &s), 0);
    ck_assert_int_eq(s.creator_alive, 0);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), 0);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

/* The pid is alive but it is not the creator: the start time tells them apart. */
START_TEST(test_reused_pid_and_odd_pids)
{
    char name[TU_NAME_LEN];
    tu_name(name, "reused");
    mproc_array *a = make_named(name, 100);
    mproc_array_close(a);
    uint64_t mine = start_time(getpid());
    ck_assert_uint_gt(mine, 0);
    static const struct {
        int64_t pid;
        int start_delta; /* start = mine + delta; -1000: start 0 (unknown) */
        int alive;
    } rows[] = {
        {0, 0, 1},         /* our pid (filled in below), our start: alive */
        {0, 1, 0},         /* our pid, another start time: a reused pid, dead */
        {0, -1, 0},        /* idem */
        {0, -1000, 1},     /* our pid, no start time recorded: cannot tell, alive */
        {-5, 0, 0},        /* impossible pids: dead */
        {(int64_t)1 << 40, 0, 0},
        {4194304 + 1, -1000, 0}, /* above pid_max: no such process */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t pid = rows[i].pid ? rows[i].pid : getpid();
        uint64_t start = rows[i].start_delta == -1000 ? 0 : mine + (uint64_t)(int64_t)rows[i].start_delta;
        forge_creator(name, pid, start);
        mproc_segment_info s;
        tu_assert_rc(mproc_segment_stat(name, &s), 0);
        ck_assert_msg(s.creator_alive == rows[i].alive, "row %zu (pid %lld start %llu): alive %d",
                      i, (long long)pid, (unsigned long long)start, s.creator_alive);
        int rc = mproc_segment_reclaim(name, NULL);
        if (rows[i].alive) {
            tu_assert_rc(rc, MPROC_EBUSY);
        } else {
            tu_assert_rc(rc, 0);
            a = make_named(name, 100); /* again, for the next row */
            mproc_array_close(a);
        }
    }
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

/* Only our valid mproc segments are listed, sorted; nothing else is touched. */
START_TEST(test_list_filters)
{
    char good1[TU_NAME_LEN], good2[TU_NAME_LEN], junk[TU_NAME_LEN], empty[TU_NAME_LEN],
        trunc[TU_NAME_LEN], corrupt[TU_NAME_LEN], fifo[TU_NAME_LEN], link[TU_NAME_LEN],
        dir[TU_NAME_LEN], foreign[TU_NAME_LEN], badname[TU_NAME_LEN + 8];
    tu_name(good2, "zz-good");
    tu_name(good1, "aa-good");
    tu_name(junk, "junk");
    tu_name(empty, "empty");
    tu_name(trunc, "trunc");
    tu_name(corrupt, "corrupt");
    tu_name(fifo, "fifo");
    tu_name(link, "link");
    tu_name(dir, "dir");
    tu_name(foreign, "foreign");
    tu_name(badname, "bad");
    strcat(badname, " x"); /* a space: not a valid mproc name */

    mproc_array *a = make_named(good2, 10), *b = make_named(good1, 20);
    mproc_array_close(a);
    mproc_array_close(b);
    char noise[8192];
    memset(noise, 'x', sizeof noise);
    ck_assert_int_eq(tu_shm_create_raw(junk, sizeof noise, noise, sizeof noise), 0);
    ck_assert_int_eq(tu_shm_create_raw(empty, 0, NULL, 0), 0);
    a = make_named(trunc, 5000);
    mproc_array_close(a);
    ck_assert_int_eq(tu_shm_truncate(trunc, 8192), 0);
    a = make_named(corrupt, 10);
    mproc_array_close(a);
    uint8_t hdr[TU_HDR_LEN];
    ck_assert_int_eq(tu_shm_read(corrupt, 0, hdr, sizeof hdr), 0);
    hdr[TU_OFF_LENGTH] ^= 1; /* checksum no longer matches */
    ck_assert_int_eq(tu_shm_write(corrupt, 0, hdr, sizeof hdr), 0);
    char path[TU_NAME_LEN + 16], target[TU_NAME_LEN + 16];
    snprintf(path, sizeof path, "/dev/shm/%s", fifo);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "/dev/shm/%s", link);
    snprintf(target, sizeof target, "/dev/shm/%s", good1);
    ck_assert_int_eq(symlink(target, path), 0);
    snprintf(path, sizeof path, "/dev/shm/%s", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    /* a valid mproc segment under a name mproc would never make */
    size_t seg_bytes = (size_t)tu_shm_size(good1);
    char *copy = malloc(seg_bytes);
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(tu_shm_read(good1, 0, copy, seg_bytes), 0);
    ck_assert_int_eq(tu_shm_create_raw(badname, seg_bytes, copy, seg_bytes), 0);
    free(copy);
    /* another user's segment with a dead creator (needs root to give it away) */
    bool have_foreign = false;
    if (geteuid() == 0) {
        a = make_named(foreign, 10);
        mproc_array_close(a);
        forge_creator(foreign, 0x7ffffffe, 1);
        snprintf(path, sizeof path, "/dev/shm/%s", foreign);
        ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
        have_foreign = true;
    } else {
        fprintf(stderr, "test_list_filters: not root, the other-user part is skipped\n");
    }

    mproc_segment_info *list = NULL;
    size_t n = 0;
    tu_assert_rc(mproc_segment_list(&list, &n), 0);
    mproc_segment_info g1, g2;
    ck_assert_msg(listed(list, n, good1, &g1), "%s not listed", good1);
    ck_assert_msg(listed(list, n, good2, &g2), "%s not listed", good2);
    ck_assert_uint_eq(g1.length, 20);
    ck_assert_uint_eq(g2.length, 10);
    const char *absent[] = {junk, empty, trunc, corrupt, fifo, link, dir, badname, foreign};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        ck_assert_msg(!listed(list, n, absent[i], NULL), "%s listed", absent[i]);
    for (size_t i = 0; i + 1 < n; i++)
        ck_assert_msg(strcmp(list[i].name, list[i + 1].name) < 0, "not sorted: %s before %s",
                      list[i].name, list[i + 1].name);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(list[i].owner, geteuid());
    mproc_segment_list_free(list);

    /* stat and reclaim refuse each of them, and leave them where they are */
    static const int want_rc[] = {MPROC_EBADMAGIC, MPROC_ETRUNCATED, MPROC_ETRUNCATED,
                                  MPROC_ECORRUPT,  MPROC_EBADMAGIC,  MPROC_EBADMAGIC,
                                  MPROC_EBADMAGIC, MPROC_ENAME,      MPROC_EACCES};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        if (absent[i] == foreign && !have_foreign)
            continue;
        mproc_segment_info s;
        int rc = mproc_segment_stat(absent[i], &s);
        ck_assert_msg(rc == want_rc[i], "stat %s: %s, want %s", absent[i], tu_errname(rc),
                      tu_errname(want_rc[i]));
        rc = mproc_segment_reclaim(absent[i], NULL);
        ck_assert_msg(rc == want_rc[i], "reclaim %s: %s, want %s", absent[i], tu_errname(rc),
                      tu_errname(want_rc[i]));
        ck_assert_msg(tu_shm_exists(absent[i]), "%s was removed", absent[i]);
    }
    ck_assert(tu_shm_exists(good1) && tu_shm_exists(good2));

    /* clean up by hand: none of these is mproc's to remove */
    const char *files[] = {junk, empty, trunc, corrupt, fifo, link, badname, good1, good2};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        ck_assert_int_eq(tu_shm_unlink(files[i]), 0);
    if (have_foreign)
        ck_assert_int_eq(tu_shm_unlink(foreign), 0);
    snprintf(path, sizeof path, "/dev/shm/%s", dir);
    ck_assert_int_eq(rmdir(path), 0);
}
END_TEST

/* Many segments: all of them listed, and a reclaim of each dead one. */
START_TEST(test_list_many_and_reclaim)
{
    enum { COUNT = 40 };
    char names[COUNT][TU_NAME_LEN];
    for (int i = 0; i < COUNT; i++) {
        tu_name(names[i], "many");
        mproc_array *a = make_named(names[i], (size_t)i);
        mproc_array_close(a);
        if (i % 2) /* odd ones: a creator that does not exist */
            forge_creator(names[i], 0x7ffffffd, 12345);
    }
    mproc_segment_info *list = NULL;
    size_t n = 0;
    tu_assert_rc(mproc_segment_list(&list, &n), 0);
    for (int i = 0; i < COUNT; i++) {
        mproc_segment_info s;
        ck_assert_msg(listed(list, n, names[i], &s), "%s not listed", names[i]);
        ck_assert_uint_eq(s.length, (uint64_t)i);
        ck_assert_int_eq(s.creator_alive, i % 2 ? 0 : 1);
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(list[i].name, tu_prefix(), strlen(tu_prefix())) != 0)
            continue; /* not ours to reclaim */
        int rc = mproc_segment_reclaim(list[i].name, NULL);
        tu_assert_rc(rc, list[i].creator_alive ? MPROC_EBUSY : 0);
    }
    mproc_segment_list_free(list);
    for (int i = 0; i < COUNT; i++) {
        ck_assert_msg(tu_shm_exists(names[i]) == (i % 2 == 0), "%s", names[i]);
        if (i % 2 == 0)
            tu_assert_rc(mproc_array_unlink(names[i]), 0);
    }
}
END_TEST

/* Reclaiming a dead creator's segment does not take it from a process that uses it. */
START_TEST(test_reclaim_while_attached)
{
    char name[TU_NAME_LEN];
    tu_name(name, "attached");
    create_from_child(name, true);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach(&a, name, MPROC_FLOAT64), 0);
    double *d = mproc_array_data(a);
    d[999] = 2.5;
    tu_assert_rc(mproc_segment_reclaim(name, NULL), 0);
    ck_assert(!tu_shm_exists(name));
    d[0] = 1.5; /* still mapped, still usable */
    ck_assert(d[999] == 2.5 && d[0] == 1.5);
    tu_assert_rc(mproc_array_close(a), 0);
}
END_TEST

START_TEST(test_bad_arguments)
{
    mproc_segment_info s;
    mproc_segment_info *list = NULL;
    size_t n = 0;
    tu_assert_rc(mproc_segment_stat(NULL, &s), MPROC_EINVAL);
    tu_assert_rc(mproc_segment_stat("x", NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_segment_stat("", &s), MPROC_ENAME);
    tu_assert_rc(mproc_segment_stat("../etc/passwd", &s), MPROC_ENAME);
    tu_assert_rc(mproc_segment_list(NULL, &n), MPROC_EINVAL);
    tu_assert_rc(mproc_segment_list(&list, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_segment_reclaim(NULL, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_segment_reclaim("a/b", NULL), MPROC_ENAME);
    char name[TU_NAME_LEN];
    tu_assert_rc(mproc_segment_reclaim(tu_name(name, "none"), NULL), MPROC_ENOENT);
    mproc_segment_list_free(NULL);
}
END_TEST

int main(void)
{
    tu_init();
    Suite *s = suite_create("segments");
    TCase *tc = tcase_create("segments");
    tu_tcase_defaults(tc, 30);
    tcase_add_test(tc, test_stat_fields);
    tcase_add_test(tc, test_dead_creator_reaped);
    tcase_add_test(tc, test_zombie_creator_is_dead);
    tcase_add_test(tc, test_live_creator_kept);
    tcase_add_test(tc, test_reused_pid_and_odd_pids);
    tcase_add_test(tc, test_list_filters);
    tcase_add_test(tc, test_list_many_and_reclaim);
    tcase_add_test(tc, test_reclaim_while_attached);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
