/*
 * cli_segments.c - `mproc ls` (list the caller's named arrays, with whether their
 * creator is alive and whether they are kept) and `mproc gc` (remove those whose creator
 * is dead, unless they are kept). Both are thin
 * layers over mproc_segment_list / mproc_segment_reclaim, which only ever look at the
 * caller's own valid mproc segments.
 */
#include "cli_segments.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "mproc.h"

void cli_ls_usage(FILE *f)
{
    fputs("usage: mproc ls [--json] [--prefix P]\n"
          "\n"
          "Lists your mproc named arrays in /dev/shm: name, owner, size, dtype, length,\n"
          "the pid of the process that created it, whether that process is alive (its\n"
          "pid exists and has the recorded start time) and whether the array is kept\n"
          "(made to outlive its creator, as 'mproc create' makes them: gc never removes\n"
          "it, 'mproc rm' does). Other users' segments and files that are not mproc\n"
          "arrays are not shown.\n"
          "\n"
          "  --json      print a JSON array of objects: name, owner, owner_uid, mode, size,\n"
          "              dtype, elem_size, length, data_offset, data_bytes, creator_pid,\n"
          "              creator_start, creator_alive, keep, flags\n"
          "  --prefix P  only names that start with P\n"
          "  -h, --help  print this help\n",
          f);
}

void cli_gc_usage(FILE *f)
{
    fputs("usage: mproc gc [--dry-run] [--prefix P]\n"
          "\n"
          "Removes your mproc named arrays whose creator is dead, and only those: a\n"
          "segment whose creator is running (or cannot be told dead) stays, so does an\n"
          "array marked kept (made to outlive its creator: those of 'mproc create'; remove\n"
          "them with 'mproc rm'), and other users' segments and files that are not mproc\n"
          "arrays are never touched. Prints one line per segment removed, then a summary\n"
          "line.\n"
          "\n"
          "  -n, --dry-run  print what would be removed, remove nothing\n"
          "  --prefix P     only names that start with P\n"
          "  -h, --help     print this help\n",
          f);
}

/* ---- command line ----------------------------------------------------------------- */

int cli_segments_parse(int argc, char **argv, cli_segments_opts *o)
{
    memset(o, 0, sizeof *o);
    if (argc < 1 || argv[0] == NULL) {
        cli_error("missing command");
        return -1;
    }
    if (!strcmp(argv[0], "ls")) {
        o->cmd = CLI_SEG_LS;
    } else if (!strcmp(argv[0], "gc")) {
        o->cmd = CLI_SEG_GC;
    } else {
        cli_error("unknown command '%s'", argv[0]);
        return -1;
    }
    const char *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = arg[0] == '-' ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
#define IS(opt) (strlen(opt) == len && !strncmp(arg, (opt), len))
        int *flag = NULL;
        if (IS("--prefix")) {
            if (eq) {
                o->prefix = eq + 1;
            } else if (i + 1 < argc) {
                o->prefix = argv[++i];
            } else {
                cli_error("option --prefix needs a value");
                return -1;
            }
            continue;
        }
        if (IS("--help") || IS("-h")) {
            if (eq) {
                cli_error("option %.*s takes no value", (int)len, arg);
                return -1;
            }
            if (o->cmd == CLI_SEG_LS)
                cli_ls_usage(stdout);
            else
                cli_gc_usage(stdout);
            return 1;
        }
        if (o->cmd == CLI_SEG_LS && IS("--json"))
            flag = &o->json;
        else if (o->cmd == CLI_SEG_GC && (IS("--dry-run") || IS("-n")))
            flag = &o->dry_run;
#undef IS
        if (flag == NULL) {
            if (arg[0] == '-' && arg[1] != '\0')
                cli_error("unknown option '%.*s' for %s (try 'mproc %s --help')", (int)len, arg,
                          cmd, cmd);
            else
                cli_error("unexpected argument '%s' (try 'mproc %s --help')", arg, cmd);
            return -1;
        }
        if (eq) {
            cli_error("option %.*s takes no value", (int)len, arg);
            return -1;
        }
        *flag = 1;
    }
    return 0;
}

/* ---- output helpers --------------------------------------------------------------- */

/* "512 B", "4.0 KiB", "3.81 GiB": three significant digits, binary prefixes. */
static const char *human_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;

    if (bytes < 1024) {
        snprintf(buf, size, "%" PRIu64 " B", bytes);
        return buf;
    }
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

static const char *dtype_text(mproc_dtype t)
{
    const char *n = mproc_dtype_name(t);
    return n ? n : "?";
}

/* Keeps the entries whose name starts with prefix (all when NULL); returns the count. */
static size_t keep_prefix(mproc_segment_info *list, size_t n, const char *prefix)
{
    size_t kept = 0, plen = prefix ? strlen(prefix) : 0;

    for (size_t i = 0; i < n; i++)
        if (plen == 0 || strncmp(list[i].name, prefix, plen) == 0) {
            if (kept != i)
                list[kept] = list[i];
            kept++;
        }
    return kept;
}

/* ---- ls --------------------------------------------------------------------------- */

static void print_ls_json(const mproc_segment_info *list, size_t n)
{
    char user[256];

    printf("[");
    for (size_t i = 0; i < n; i++) {
        const mproc_segment_info *s = &list[i];
        printf("%s\n  {\"name\": ", i ? "," : "");
        cli_json_string(s->name);
        printf(", \"owner\": ");
        cli_json_string(cli_user_name(s->owner, user, sizeof user));
        printf(", \"owner_uid\": %lu, \"mode\": \"%04o\", \"size\": %" PRIu64
               ", \"dtype\": \"%s\", \"elem_size\": %zu, \"length\": %" PRIu64
               ", \"data_offset\": %" PRIu64 ", \"data_bytes\": %" PRIu64
               ", \"creator_pid\": %ld, \"creator_start\": %" PRIu64
               ", \"creator_alive\": %s, \"keep\": %s, \"flags\": %" PRIu32 "}",
               (unsigned long)s->owner, s->mode, s->size, dtype_text(s->dtype), s->elem_size,
               s->length, s->data_offset, s->data_bytes, (long)s->creator_pid,
               s->creator_start, s->creator_alive ? "true" : "false",
               s->keep ? "true" : "false", s->flags);
    }
    printf("%s]\n", n ? "\n" : "");
}

static void print_ls_table(const mproc_segment_info *list, size_t n)
{
    int wname = 4;
    char user[256], size[32];

    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(list[i].name);
        if (len > wname)
            wname = len;
    }
    printf("%-*s  %-10s  %10s  %-7s  %12s  %8s  %-5s  %s\n", wname, "NAME", "OWNER", "SIZE",
           "DTYPE", "LENGTH", "PID", "ALIVE", "KEEP");
    for (size_t i = 0; i < n; i++) {
        const mproc_segment_info *s = &list[i];
        printf("%-*s  %-10s  %10s  %-7s  %12" PRIu64 "  %8ld  %-5s  %s\n", wname, s->name,
               cli_user_name(s->owner, user, sizeof user),
               human_bytes(s->size, size, sizeof size), dtype_text(s->dtype), s->length,
               (long)s->creator_pid, s->creator_alive ? "yes" : "no", s->keep ? "yes" : "no");
    }
}

static int run_ls(const cli_segments_opts *o)
{
    mproc_segment_info *list = NULL;
    size_t n = 0;
    int err = mproc_segment_list(&list, &n);

    if (err) {
        cli_error("cannot list /dev/shm: %s", mproc_strerror(err));
        return CLI_EXIT_FAIL;
    }
    n = keep_prefix(list, n, o->prefix);
    if (o->json)
        print_ls_json(list, n);
    else
        print_ls_table(list, n);
    mproc_segment_list_free(list);
    return CLI_EXIT_OK;
}

/* ---- gc --------------------------------------------------------------------------- */

static int run_gc(const cli_segments_opts *o)
{
    mproc_segment_info *list = NULL;
    size_t n = 0, removed = 0;
    uint64_t bytes = 0;
    int status = CLI_EXIT_OK, err = mproc_segment_list(&list, &n);
    char size[32];

    if (err) {
        cli_error("cannot list /dev/shm: %s", mproc_strerror(err));
        return CLI_EXIT_FAIL;
    }
    n = keep_prefix(list, n, o->prefix);
    for (size_t i = 0; i < n; i++) {
        mproc_segment_info s = list[i];

        if (s.creator_alive || s.keep)
            continue;
        if (!o->dry_run) {
            err = mproc_segment_reclaim(s.name, &s);
            if (err == MPROC_EBUSY || err == MPROC_ENOENT)
                continue; /* kept or replaced meanwhile, or removed by someone else */
            if (err) {
                cli_error("cannot remove %s: %s", s.name, mproc_strerror(err));
                status = CLI_EXIT_FAIL;
                continue;
            }
        }
        printf("%s %s (creator pid %ld dead, %s)\n", o->dry_run ? "would remove" : "removed",
               s.name, (long)s.creator_pid, human_bytes(s.size, size, sizeof size));
        removed++;
        bytes += s.size;
    }
    mproc_segment_list_free(list);
    printf("gc: %s %zu segment%s (%s)\n", o->dry_run ? "would remove" : "removed", removed,
           removed == 1 ? "" : "s", human_bytes(bytes, size, sizeof size));
    return status;
}

int cli_segments_main(int argc, char **argv)
{
    cli_segments_opts o;
    int rc = cli_segments_parse(argc, argv, &o);

    if (rc)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    return o.cmd == CLI_SEG_LS ? run_ls(&o) : run_gc(&o);
}
