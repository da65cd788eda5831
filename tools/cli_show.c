/*
 * cli_show.c - `mproc show NAME` (the values, printed as Python prints a list) and
 * `mproc info NAME` (what the header of the array says, and whether its creator lives).
 */
#include "cli_array.h"

#include <inttypes.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "mproc.h"

#define VALUE_TEXT 64

void cli_show_usage(FILE *f)
{
    fputs("usage: mproc show NAME [--head K] [--tail K] [--all] [--json]\n"
          "\n"
          "Prints the elements of the named array as Python prints a list, on one line:\n"
          "  [4, 9, 16, 25, 36, 49, 64]\n"
          "Integers in decimal; floats in the shortest form that reads back to the same\n"
          "value, as Python's repr: 2.25, 9.0, 1e+20, nan, inf, -inf. Elements left out\n"
          "are shown as one '...':\n"
          "  (no option)   every element; an array of more than 1000 is summarized as\n"
          "                numpy does, its first 3 and last 3: [0, 1, 2, ..., 997, 998, 999]\n"
          "  --head K      the first K: [4, 9, 16, ...] (no '...' when K >= the length)\n"
          "  --tail K      the last K: [..., 49, 64]; with --head too: [4, 9, ..., 64]\n"
          "  --all         every element, however many\n"
          "  --json        a JSON array of numbers instead: every element (no summary), or\n"
          "                the --head or --tail ones; NaN and infinities, which JSON lacks,\n"
          "                are null\n"
          "  -h, --help    print this help\n"
          "\n"
          "Exit status: 0; 1 no such array, or not an mproc array; 2 usage error.\n",
          f);
}

void cli_info_usage(FILE *f)
{
    fputs("usage: mproc info NAME [--json]\n"
          "\n"
          "Prints what the header of the named array records, one 'key: value' per line:\n"
          "name, dtype, elem_size, length, data_bytes (length * elem_size), size (bytes of\n"
          "the segment: header page + data), data_offset, owner (user and uid), mode,\n"
          "creator_pid, creator_alive (yes; no; or unknown: the pid exists but no start\n"
          "time was recorded to tell a reused pid), keep (yes: made to outlive its\n"
          "creator, 'mproc gc' never removes it), version (segment format), flags and\n"
          "instance_id. The data is not read.\n"
          "\n"
          "  --json      one JSON object with the same keys (owner_uid apart; mode as a\n"
          "              string \"0600\"; creator_alive true, false or null for unknown;\n"
          "              keep true or false; creator_start added)\n"
          "  -h, --help  print this help\n"
          "\n"
          "Exit status: 0; 1 no such array, or not an mproc array; 2 usage error.\n",
          f);
}

/* ---- command lines ---------------------------------------------------------------- */

enum { S_HEAD, S_TAIL, S_ALL, S_JSON };

static const cli_option show_options[] = {
    {"--help", CLI_OPT_HELP, 0}, {"-h", CLI_OPT_HELP, 0}, {"--head", S_HEAD, 1},
    {"--tail", S_TAIL, 1},       {"--all", S_ALL, 0},     {"--json", S_JSON, 0},
};

static int show_apply(void *ctx, int id, const char *opt, const char *val)
{
    cli_show_opts *o = ctx;

    switch (id) {
    case S_HEAD:
        o->head_given = 1;
        return cli_opt_count(opt, val, 0, UINT64_MAX, &o->head);
    case S_TAIL:
        o->tail_given = 1;
        return cli_opt_count(opt, val, 0, UINT64_MAX, &o->tail);
    case S_ALL: o->all = 1; return 0;
    case S_JSON: o->json = 1; return 0;
    default: return -1;
    }
}

int cli_show_parse(int argc, char **argv, cli_show_opts *o)
{
    const char *pos[1];
    int npos, rc;
    cli_command cmd = {"show", show_options, sizeof show_options / sizeof show_options[0],
                       show_apply, o, cli_show_usage, 1};

    memset(o, 0, sizeof *o);
    rc = cli_parse_command(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc;
    if (npos == 0) {
        cli_error("show needs an array name (try 'mproc show --help')");
        return -1;
    }
    o->name = pos[0];
    if (o->all && (o->head_given || o->tail_given)) {
        cli_error("--all cannot be used with --head or --tail");
        return -1;
    }
    if (o->json && o->head_given && o->tail_given) {
        cli_error("--json takes --head or --tail, not both");
        return -1;
    }
    return 0;
}

enum { I_JSON };

static const cli_option info_options[] = {
    {"--help", CLI_OPT_HELP, 0}, {"-h", CLI_OPT_HELP, 0}, {"--json", I_JSON, 0},
};

static int info_apply(void *ctx, int id, const char *opt, const char *val)
{
    cli_info_opts *o = ctx;

    (void)id;
    (void)opt;
    (void)val;
    o->json = 1;
    return 0;
}

int cli_info_parse(int argc, char **argv, cli_info_opts *o)
{
    const char *pos[1];
    int npos, rc;
    cli_command cmd = {"info", info_options, sizeof info_options / sizeof info_options[0],
                       info_apply, o, cli_info_usage, 1};

    memset(o, 0, sizeof *o);
    rc = cli_parse_command(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc;
    if (npos == 0) {
        cli_error("info needs an array name (try 'mproc info --help')");
        return -1;
    }
    o->name = pos[0];
    return 0;
}

/* ---- show ------------------------------------------------------------------------- */

/* Which elements are printed: [0, head) and [tail_from, n), with a '...' between them
 * when they do not meet. */
typedef struct selection {
    size_t head, tail_from;
} selection;

static selection select_elements(const cli_show_opts *o, size_t n)
{
    selection s = {n, n}; /* everything */
    uint64_t head = o->head, tail = o->tail;

    if (o->all)
        return s;
    if (!o->head_given && !o->tail_given) {
        if (o->json || n <= CLI_SHOW_THRESHOLD)
            return s;
        head = tail = CLI_SHOW_EDGE;
    } else if (!o->head_given) {
        head = 0;
    } else if (!o->tail_given) {
        tail = 0;
    }
    if (head >= n || tail >= n - head) /* (no head + tail: it could wrap) */
        return s;
    s.head = (size_t)head;
    s.tail_from = n - (size_t)tail;
    return s;
}

/* One element: text as cli_format_value, or a JSON number (null for nan and inf). */
static void print_value(const cli_show_opts *o, mproc_dtype t, const void *data, size_t i)
{
    char v[VALUE_TEXT];

    cli_format_value(v, sizeof v, t, data, i);
    if (o->json && (!strcmp(v, "nan") || !strcmp(v, "inf") || !strcmp(v, "-inf")))
        fputs("null", stdout);
    else
        fputs(v, stdout);
}

static void print_elements(const cli_show_opts *o, const mproc_array *a)
{
    mproc_dtype t = mproc_array_dtype(a);
    const void *data = mproc_array_data(a);
    size_t n = mproc_array_length(a);
    selection s = select_elements(o, n);
    const char *sep = "";

    putchar('[');
    for (size_t i = 0; i < s.head; i++, sep = ", ") {
        fputs(sep, stdout);
        print_value(o, t, data, i);
    }
    if (s.head < s.tail_from && !o->json) {
        printf("%s...", sep);
        sep = ", ";
    }
    for (size_t i = s.tail_from; i < n; i++, sep = ", ") {
        fputs(sep, stdout);
        print_value(o, t, data, i);
    }
    puts("]");
}

int cli_show_main(int argc, char **argv)
{
    cli_show_opts o;
    mproc_array *a = NULL;
    int err, rc = cli_show_parse(argc, argv, &o);

    if (rc)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    err = mproc_array_attach(&a, o.name, MPROC_DTYPE_ANY);
    if (err)
        return cli_array_error("cannot open", o.name, err);
    print_elements(&o, a);
    mproc_array_close(a);
    return CLI_EXIT_OK;
}

/* ---- info ------------------------------------------------------------------------- */

/* "yes", "no" or "unknown": the library counts a creator alive when it cannot tell, and
 * without a recorded start time all it has is the pid. */
static const char *alive_text(const mproc_segment_info *s)
{
    if (!s->creator_alive)
        return "no";
    return s->creator_start == 0 ? "unknown" : "yes";
}

static void print_info_json(const mproc_segment_info *s)
{
    const char *alive = alive_text(s);
    char user[256];

    printf("{\"name\": ");
    cli_json_string(s->name);
    printf(", \"dtype\": \"%s\", \"elem_size\": %zu, \"length\": %" PRIu64
           ", \"data_bytes\": %" PRIu64 ", \"size\": %" PRIu64 ", \"data_offset\": %" PRIu64
           ", \"owner\": ",
           mproc_dtype_name(s->dtype), s->elem_size, s->length, s->data_bytes, s->size,
           s->data_offset);
    cli_json_string(cli_user_name(s->owner, user, sizeof user));
    printf(", \"owner_uid\": %lu, \"mode\": \"%04o\", \"creator_pid\": %ld"
           ", \"creator_start\": %" PRIu64 ", \"creator_alive\": %s, \"keep\": %s"
           ", \"version\": %" PRIu32 ", \"flags\": %" PRIu32 ", \"instance_id\": %" PRIu64 "}\n",
           (unsigned long)s->owner, s->mode, (long)s->creator_pid, s->creator_start,
           !strcmp(alive, "yes") ? "true" : !strcmp(alive, "no") ? "false" : "null",
           s->keep ? "true" : "false", s->version, s->flags, s->instance_id);
}

static void print_info_text(const mproc_segment_info *s)
{
    char user[256];

    printf("name:          %s\n", s->name);
    printf("dtype:         %s\n", mproc_dtype_name(s->dtype));
    printf("elem_size:     %zu\n", s->elem_size);
    printf("length:        %" PRIu64 "\n", s->length);
    printf("data_bytes:    %" PRIu64 "\n", s->data_bytes);
    printf("size:          %" PRIu64 "\n", s->size);
    printf("data_offset:   %" PRIu64 "\n", s->data_offset);
    printf("owner:         %s (uid %lu)\n", cli_user_name(s->owner, user, sizeof user),
           (unsigned long)s->owner);
    printf("mode:          %04o\n", s->mode);
    printf("creator_pid:   %ld\n", (long)s->creator_pid);
    printf("creator_alive: %s\n", alive_text(s));
    printf("keep:          %s\n", s->keep ? "yes" : "no");
    printf("version:       %" PRIu32 "\n", s->version);
    printf("flags:         %" PRIu32 "\n", s->flags);
    printf("instance_id:   %" PRIu64 "\n", s->instance_id);
}

int cli_info_main(int argc, char **argv)
{
    cli_info_opts o;
    mproc_segment_info s;
    int err, rc = cli_info_parse(argc, argv, &o);

    if (rc)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    err = mproc_segment_stat(o.name, &s);
    if (err)
        return cli_array_error("cannot read", o.name, err);
    if (o.json)
        print_info_json(&s);
    else
        print_info_text(&s);
    return CLI_EXIT_OK;
}
