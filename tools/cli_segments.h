/* cli_segments.h - `mproc ls` and `mproc gc`: list and reclaim named arrays. */
#ifndef MPROC_CLI_SEGMENTS_H
#define MPROC_CLI_SEGMENTS_H

#include <stdio.h>

typedef enum cli_segments_cmd { CLI_SEG_LS = 1, CLI_SEG_GC = 2 } cli_segments_cmd;

typedef struct cli_segments_opts {
    cli_segments_cmd cmd;
    int json;    /* ls --json */
    int dry_run; /* gc --dry-run */
    const char *prefix; /* --prefix P: only names that start with P (NULL: all) */
} cli_segments_opts;

/*
 * Parses `ls ...` or `gc ...` (argv[0] is the command name) without running anything.
 * Returns 0 to run, 1 when help was printed on stdout, -1 after a usage error was
 * printed on stderr (one line).
 */
int cli_segments_parse(int argc, char **argv, cli_segments_opts *o);

/* Runs `mproc ls ...` or `mproc gc ...`; argv[0] is "ls" or "gc". Returns the exit status. */
int cli_segments_main(int argc, char **argv);

/* Writes the usage text of `mproc ls` / `mproc gc` to f. */
void cli_ls_usage(FILE *f);
void cli_gc_usage(FILE *f);

#endif /* MPROC_CLI_SEGMENTS_H */
