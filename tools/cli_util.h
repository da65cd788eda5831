/*
 * cli_util.h - what the mproc command's files share: strict number parsing, value
 * formatting for every dtype, fills, usage errors and array errors, user names and JSON
 * strings, clocks, the stderr progress bar and the SIGINT/SIGTERM flag.
 */
#ifndef MPROC_CLI_UTIL_H
#define MPROC_CLI_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mproc.h"

/* Exit statuses of the command. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,  /* verification mismatch, no such array, or a library error */
    CLI_EXIT_USAGE = 2, /* bad command line, or an array that cannot be created */
};

/* Prints "mproc: <message>" as one line on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parses a count: a plain decimal integer ("100000000") or a decimal mantissa with an
 * exponent that gives an integer ("1e8", "2.5e6", "1E9"). No sign, no spaces, no
 * trailing characters. Returns NULL and sets *out, or a static reason ("not a number",
 * "too large", "not an integer").
 */
const char *cli_parse_count(const char *text, uint64_t *out);

/*
 * Parses one value of `dtype` into out (elem_size bytes). Integers are decimal with an
 * optional sign and must fit the dtype; floats are what strtod accepts (inf and nan
 * too) and must not overflow the dtype. Leading and trailing blanks are allowed.
 * Returns NULL, or a static reason ("not an integer", "out of range [0, 255]", ...).
 */
const char *cli_parse_value(const char *text, mproc_dtype dtype, void *out);

/*
 * Formats element `index` of `data` (of dtype) into buf: integers in decimal, floats
 * as the shortest text that reads back to the same value, positional between 1e-4 and
 * 1e16 with at least one decimal ("4.0", "2.25"), else scientific ("1e+16"); "inf",
 * "-inf", "nan". Returns buf.
 */
char *cli_format_value(char *buf, size_t size, mproc_dtype dtype, const void *data,
                       size_t index);

/* Writes a[i] = start + i wrapped to the dtype, for i in [0, count). */
void cli_fill_index(mproc_dtype dtype, void *data, uint64_t start, size_t count);

/*
 * Writes a[i] = the pseudo-random value number start + i of the sequence of seed, for i
 * in [0, count): value k is made from the (k+1)-th output x of SplitMix64 seeded with
 * seed. Integers take the low bits of x (every value of the dtype equally likely);
 * float64 is (x >> 11) * 2^-53 and float32 (x >> 40) * 2^-24, uniform in [0, 1). Each
 * element depends only on seed and its index, so blocks can be filled in any order.
 */
void cli_fill_random(mproc_dtype dtype, void *data, uint64_t seed, uint64_t start,
                     size_t count);

/* ---- arrays, users, JSON ---------------------------------------------------------- */

/*
 * Prints the error of a library call on the named array and returns the exit status it
 * deserves: "no array named X" (MPROC_ENOENT) and "X already exists" (MPROC_EEXIST)
 * exit 1; an invalid name (MPROC_ENAME) or a size that overflows (MPROC_EOVERFLOW) is
 * a usage error, 2; anything else "<action> X: <mproc_strerror>", 1.
 */
int cli_array_error(const char *action, const char *name, int err);

/* The user name of uid, or its number when it has none. Returns buf. */
const char *cli_user_name(uid_t uid, char *buf, size_t size);

/* Writes s to stdout as a JSON string (quotes, backslashes and controls escaped). */
void cli_json_string(const char *s);

/* CLOCK_MONOTONIC in seconds. */
double cli_now(void);

/* Sorts times and returns the median (the mean of the middle two for an even count). */
double cli_median(double *times, size_t count);

/* ---- signals ---------------------------------------------------------------------- */

/* The signal that asked us to stop (SIGINT or SIGTERM), 0 while none did. */
extern volatile sig_atomic_t cli_stop_signal;

/*
 * Installs the SIGINT and SIGTERM handlers that set cli_stop_signal (a second signal
 * of either kind ends the process at once, 128 + signal; workers die with it through
 * PR_SET_PDEATHSIG). A signal that was ignored when we started stays ignored, as for
 * a background job of a non-interactive shell.
 */
void cli_install_signal_handlers(void);

/* 128 + the stop signal: 130 for SIGINT, 143 for SIGTERM. */
int cli_stop_status(void);

/*
 * Names the array that a second SIGINT/SIGTERM (the one that ends the process at once)
 * removes from /dev/shm before exiting: an array this run created and has not finished
 * filling. NULL forgets it. A first signal only sets cli_stop_signal: the command
 * removes the array itself then.
 */
void cli_set_exit_unlink(const char *name);

/* ---- progress bar ----------------------------------------------------------------- */

/*
 * A one-line bar on stderr, drawn only when stderr is a terminal and only once a
 * second has passed since cli_progress_start, so that short runs and pipes never see it.
 * Work is counted in units the caller chooses (total given at start).
 */
typedef struct cli_progress {
    int enabled;
    int shown;
    double start;
    double last_draw;
    double total;
    double done;
    char label[48];
} cli_progress;

void cli_progress_start(cli_progress *p, double total_units);
/* Sets the phase label ("square 3/10") and the units done so far; redraws at most
 * ten times a second. */
void cli_progress_update(cli_progress *p, const char *label, double done_units);
/* Erases the bar if it was drawn. */
void cli_progress_finish(cli_progress *p);

#endif /* MPROC_CLI_UTIL_H */
