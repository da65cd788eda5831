/*
 * cli_args.c - the option table parser and the checked conversions of option values
 * that the mproc commands share.
 */
#include "cli_args.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

static const cli_option *find_option(const cli_command *cmd, const char *arg, size_t len)
{
    for (size_t k = 0; k < cmd->option_count; k++)
        if (strlen(cmd->options[k].name) == len && !strncmp(arg, cmd->options[k].name, len))
            return &cmd->options[k];
    return NULL;
}

int cli_parse_command(const cli_command *cmd, int argc, char **argv, const char **pos,
                      int *npos)
{
    int options_end = 0;

    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (!options_end && !strcmp(arg, "--")) {
            options_end = 1;
            continue;
        }
        if (options_end || arg[0] != '-' || arg[1] == '\0') {
            if (*npos >= cmd->max_positional) {
                cli_error("unexpected argument '%s' (try 'mproc %s --help')", arg, cmd->name);
                return -1;
            }
            pos[(*npos)++] = arg;
            continue;
        }

        const char *eq = strchr(arg, '='), *val = NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const cli_option *opt = find_option(cmd, arg, len);

        if (opt == NULL) {
            cli_error("unknown option '%.*s' for %s (try 'mproc %s --help')", (int)len, arg,
                      cmd->name, cmd->name);
            return -1;
        }
        if (!opt->takes_value) {
            if (eq) {
                cli_error("option %s takes no value", opt->name);
                return -1;
            }
            if (opt->id == CLI_OPT_HELP) {
                cmd->usage(stdout);
                return 1;
            }
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i]; /* taken whatever it looks like: --scalar -3 */
        } else {
            cli_error("option %s needs a value", opt->name);
            return -1;
        }
        if (cmd->apply(cmd->ctx, opt->id, opt->name, val))
            return -1;
    }
    return 0;
}

int cli_opt_count(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *why = cli_parse_count(text, out);

    if (why) {
        cli_error("invalid value '%s' for %s: %s", text, opt, why);
        return -1;
    }
    if (*out < min) {
        cli_error("invalid value '%s' for %s: must be at least %" PRIu64, text, opt, min);
        return -1;
    }
    if (*out > max) {
        cli_error("invalid value '%s' for %s: must be at most %" PRIu64, text, opt, max);
        return -1;
    }
    return 0;
}

int cli_opt_dtype(const char *text, mproc_dtype *out)
{
    if (mproc_dtype_parse(text, out) != 0) {
        cli_error("unknown dtype '%s' (int8..int64, uint8..uint64, float32, float64, "
                  "i32, f64, or a typecode b B h H i I l L q Q f d)", text);
        return -1;
    }
    return 0;
}

int cli_parse_list(const char *list, mproc_dtype dtype, const char *opt, void **out,
                   size_t *count)
{
    size_t es = mproc_dtype_size(dtype), n = 1, i = 0;
    const char *s = list + strspn(list, " \t");
    char *copy, *piece, *buf;

    *out = NULL;
    *count = 0;
    if (*s == '\0')
        return 0;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    buf = malloc(n * es);
    copy = strdup(list);
    if (!buf || !copy) {
        free(buf);
        free(copy);
        cli_error("out of memory");
        return -1;
    }
    piece = copy;
    for (;;) {
        char *comma = strchr(piece, ',');
        const char *why;

        if (comma)
            *comma = '\0';
        why = cli_parse_value(piece, dtype, buf + i * es);
        if (why) {
            cli_error("invalid %s value '%s' in %s: %s", mproc_dtype_name(dtype), piece, opt,
                      why);
            free(copy);
            free(buf);
            return -1;
        }
        i++;
        if (!comma)
            break;
        piece = comma + 1;
    }
    free(copy);
    *out = buf;
    *count = n;
    return 0;
}
