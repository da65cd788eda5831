/*
 * cli_array.h - the array commands of `mproc`: create and rm (cli_create.c), map
 * (cli_map.c), show and info (cli_show.c). Each has a usage text, a parser that only
 * reads the command line (the fuzz harness runs it alone) and a main.
 *
 * Parsers return 0 to run, 1 when -h/--help printed the usage, -1 after printing a
 * one-line usage error. Mains return the exit status (cli_util.h).
 */
#ifndef MPROC_CLI_ARRAY_H
#define MPROC_CLI_ARRAY_H

#include <stdint.h>
#include <stdio.h>

#include "mproc.h"

/* ---- create ----------------------------------------------------------------------- */

typedef enum cli_fill { CLI_FILL_ZERO, CLI_FILL_IOTA, CLI_FILL_RANDOM } cli_fill;

typedef struct cli_create_opts {
    const char *name;
    mproc_dtype dtype;  /* default int32 */
    uint64_t n;         /* --n */
    int n_given;
    cli_fill fill;      /* default zero */
    int fill_given;
    uint64_t seed;      /* --seed, default 1 */
    int seed_given;
    const char *values; /* --values LIST, or NULL */
} cli_create_opts;

void cli_create_usage(FILE *f);
int cli_create_parse(int argc, char **argv, cli_create_opts *o);
int cli_create_main(int argc, char **argv);

/* ---- rm --------------------------------------------------------------------------- */

typedef struct cli_rm_opts {
    const char **names; /* the parser's `names` buffer */
    int count;
    int force;
    int verbose;
} cli_rm_opts;

void cli_rm_usage(FILE *f);
/* names: room for argc pointers. */
int cli_rm_parse(int argc, char **argv, const char **names, cli_rm_opts *o);
int cli_rm_main(int argc, char **argv);

/* ---- map -------------------------------------------------------------------------- */

#define CLI_MAP_LIBS_MAX 8 /* --lib given at most this often (a pool's limit) */

typedef struct cli_map_opts {
    const char *name;   /* the array, mapped in place unless out is given */
    const char *kernel; /* what cli_map_find_kernel looks up */
    const char *out;    /* --out NAME2, or NULL */
    const char *scalar; /* --scalar X as given (parsed in the array's dtype), or NULL */
    uint64_t workers;   /* 0: all CPUs */
    uint64_t chunk;     /* 0: automatic */
    int verbose;
    const char *libs[CLI_MAP_LIBS_MAX]; /* --lib PATH, in order */
    int nlibs;
    int start_method;   /* --start: MPROC_START_FORK (default) or MPROC_START_SPAWN */
} cli_map_opts;

/* A kernel found by name, bound to the array's dtype: what mproc_map is given. */
typedef struct cli_map_kernel {
    mproc_kernel fn;
    int by_name; /* a kernel of a --lib library: mapped by name (workers load it too) */
    unsigned char ctx[MPROC_CTX_MAX]; /* the bytes every call of fn sees */
    size_t ctx_size;
} cli_map_kernel;

void cli_map_usage(FILE *f);
int cli_map_parse(int argc, char **argv, cli_map_opts *o);
/*
 * Turns o->kernel (and o->scalar) into a kernel for arrays of dtype. Returns 0, or an
 * exit status after printing why (an unknown kernel or a bad scalar is a usage error).
 */
int cli_map_find_kernel(const cli_map_opts *o, mproc_dtype dtype, cli_map_kernel *out);
int cli_map_main(int argc, char **argv);

/* ---- show ------------------------------------------------------------------------- */

/* Arrays longer than this are summarized by show unless asked otherwise (as numpy). */
#define CLI_SHOW_THRESHOLD 1000
/* Elements shown at each end of a summary. */
#define CLI_SHOW_EDGE 3

typedef struct cli_show_opts {
    const char *name;
    uint64_t head, tail;
    int head_given, tail_given;
    int all;
    int json;
} cli_show_opts;

void cli_show_usage(FILE *f);
int cli_show_parse(int argc, char **argv, cli_show_opts *o);
int cli_show_main(int argc, char **argv);

/* ---- info ------------------------------------------------------------------------- */

typedef struct cli_info_opts {
    const char *name;
    int json;
} cli_info_opts;

void cli_info_usage(FILE *f);
int cli_info_parse(int argc, char **argv, cli_info_opts *o);
int cli_info_main(int argc, char **argv);

#endif /* MPROC_CLI_ARRAY_H */
