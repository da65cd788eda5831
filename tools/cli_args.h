/*
 * cli_args.h - the command line parser that the array commands (create, map, show, info,
 * rm) share: a table of options, positional arguments, and the checks of counts, dtypes
 * and value lists, each printing its one-line usage error.
 */
#ifndef MPROC_CLI_ARGS_H
#define MPROC_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "mproc.h"

/* The id of -h / --help in an option table: the parser prints the usage itself. */
#define CLI_OPT_HELP (-1)

typedef struct cli_option {
    const char *name; /* "--head"; a short alias is an entry of its own ("-v") */
    int id;           /* handed to the command's apply function, or CLI_OPT_HELP */
    int takes_value;  /* given as "--head 5" or "--head=5" */
} cli_option;

typedef struct cli_command {
    const char *name; /* "show", for the messages */
    const cli_option *options;
    size_t option_count;
    /* Stores one option; returns 0, or -1 after printing the usage error. */
    int (*apply)(void *ctx, int id, const char *option, const char *value);
    void *ctx;
    void (*usage)(FILE *f);
    int max_positional; /* more positional arguments than this are a usage error */
} cli_command;

/*
 * Parses argv[1..argc) (argv[0] is the command's name) against the command's options.
 * Options and positional arguments may come in any order; "--" ends the options, so
 * that a name that starts with '-' can be given; a lone "-" is positional. pos receives
 * the positional arguments (room for max_positional), *npos their count.
 * Returns 0, 1 when -h/--help printed the usage on stdout, or -1 after printing a usage
 * error (unknown option, missing value, a value given to a flag, too many arguments, or
 * whatever apply refused).
 */
int cli_parse_command(const cli_command *cmd, int argc, char **argv, const char **pos,
                      int *npos);

/*
 * Parses a count for option `opt` with cli_parse_count and checks min <= value <= max.
 * 0, or -1 after printing "invalid value 'X' for --n: <why>".
 */
int cli_opt_count(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a dtype (mproc_dtype_parse). 0, or -1 after printing "unknown dtype 'X' (...)". */
int cli_opt_dtype(const char *text, mproc_dtype *out);

/*
 * Parses a comma-separated list of values of dtype (cli_parse_value each) into a new
 * malloc'd buffer of *count elements (an empty or blank list is zero elements, *out
 * NULL). 0, or -1 after printing "invalid int8 value 'X' in --values: <why>" (opt
 * names the option) or "out of memory".
 */
int cli_parse_list(const char *list, mproc_dtype dtype, const char *opt, void **out,
                   size_t *count);

#endif /* MPROC_CLI_ARGS_H */
