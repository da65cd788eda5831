/*
 * cli_util.c - strict parsing, value formatting, fills, array errors, user names, JSON
 * strings, clocks, signals and the progress bar of the mproc command.
 */
#include "cli_util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line, whatever the message holds (an argument echoed back may have newlines). */
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fprintf(stderr, "mproc: %s\n", msg);
}

/* ---- counts ----------------------------------------------------------------------- */

#define COUNT_TEXT_MAX 128

const char *cli_parse_count(const char *text, uint64_t *out)
{
    char digits[COUNT_TEXT_MAX];
    size_t nd = 0;
    long exp10 = 0;
    const char *s = text;
    int seen = 0;

    if (strlen(text) >= COUNT_TEXT_MAX)
        return "not a number";
    if (!isdigit((unsigned char)*s))
        return *s == '-' ? "must not be negative" : "not a number";
    for (; isdigit((unsigned char)*s); s++, seen = 1)
        digits[nd++] = *s;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return "not a number";
        for (; isdigit((unsigned char)*s); s++, exp10--)
            digits[nd++] = *s;
    }
    if (*s == 'e' || *s == 'E') {
        int neg = 0;
        long e = 0;

        s++;
        if (*s == '+' || *s == '-')
            neg = *s++ == '-';
        if (!isdigit((unsigned char)*s))
            return "not a number";
        for (; isdigit((unsigned char)*s); s++)
            if (e < 100000)
                e = e * 10 + (*s - '0');
        exp10 += neg ? -e : e;
    }
    if (*s != '\0' || !seen)
        return "not a number";

    /* value = digits * 10^exp10, computed exactly */
    size_t lead = 0;
    while (lead < nd && digits[lead] == '0')
        lead++;
    while (nd > lead && digits[nd - 1] == '0') {
        nd--;
        exp10++;
    }
    if (nd == lead) {
        *out = 0;
        return NULL;
    }
    if (exp10 < 0)
        return "not an integer";
    uint64_t v = 0;
    for (size_t i = lead; i < nd; i++) {
        unsigned d = (unsigned)(digits[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return "too large";
        v = v * 10 + d;
    }
    for (long i = 0; i < exp10; i++) {
        if (v > UINT64_MAX / 10)
            return "too large";
        v *= 10;
    }
    *out = v;
    return NULL;
}

/* ---- values ----------------------------------------------------------------------- */

static int dtype_is_float(mproc_dtype t)
{
    return t == MPROC_FLOAT32 || t == MPROC_FLOAT64;
}

static int dtype_is_signed(mproc_dtype t)
{
    return t == MPROC_INT8 || t == MPROC_INT16 || t == MPROC_INT32 || t == MPROC_INT64;
}

static void int_limits(mproc_dtype t, int64_t *lo, uint64_t *hi)
{
    unsigned bits = (unsigned)mproc_dtype_size(t) * 8;

    if (dtype_is_signed(t)) {
        *hi = (UINT64_C(1) << (bits - 1)) - 1;
        *lo = -(int64_t)*hi - 1;
    } else {
        *hi = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        *lo = 0;
    }
}

/* Stores the low bytes of v (little- or big-endian alike: through the exact type). */
static void store_int(mproc_dtype t, uint64_t v, void *out)
{
    switch (mproc_dtype_size(t)) {
    case 1: { uint8_t x = (uint8_t)v; memcpy(out, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy(out, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(out, &x, 4); break; }
    default: memcpy(out, &v, 8); break;
    }
}

static const char *parse_float(const char *s, mproc_dtype t, void *out)
{
    char *end;

    errno = 0;
    if (t == MPROC_FLOAT32) {
        float f = strtof(s, &end);
        if (end == s || *end != '\0')
            return "not a number";
        if (errno == ERANGE && isinf(f))
            return "out of range";
        memcpy(out, &f, sizeof f);
    } else {
        double d = strtod(s, &end);
        if (end == s || *end != '\0')
            return "not a number";
        if (errno == ERANGE && isinf(d))
            return "out of range";
        memcpy(out, &d, sizeof d);
    }
    return NULL;
}

const char *cli_parse_value(const char *text, mproc_dtype dtype, void *out)
{
    static char reason[64];
    char buf[512];
    size_t len;
    int64_t lo;
    uint64_t hi;
    char *end;

    while (*text == ' ' || *text == '\t')
        text++;
    len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0)
        return "empty value";
    if (len >= sizeof buf)
        return "value too long";
    memcpy(buf, text, len);
    buf[len] = '\0';

    if (dtype_is_float(dtype))
        return parse_float(buf, dtype, out);

    const char *digits = buf + (buf[0] == '+' || buf[0] == '-');
    if (!isdigit((unsigned char)*digits))
        return "not an integer";
    int_limits(dtype, &lo, &hi);
    if (dtype_is_signed(dtype))
        snprintf(reason, sizeof reason, "out of range [%" PRId64 ", %" PRIu64 "]", lo, hi);
    else
        snprintf(reason, sizeof reason, "out of range [0, %" PRIu64 "]", hi);
    errno = 0;
    if (buf[0] == '-') {
        long long v = strtoll(buf, &end, 10);
        if (*end != '\0')
            return "not an integer";
        if (errno == ERANGE || v < lo)
            return reason;
        store_int(dtype, (uint64_t)v, out);
    } else {
        unsigned long long v = strtoull(buf, &end, 10);
        if (*end != '\0')
            return "not an integer";
        if (errno == ERANGE || v > hi)
            return reason;
        store_int(dtype, (uint64_t)v, out);
    }
    return NULL;
}

/* ---- formatting ------------------------------------------------------------------- */

/* The shortest "%.*e" text that reads back as the same value (float32 or float64). */
static void shortest_exp(char *tmp, size_t size, double x, int is_float)
{
    int max = is_float ? 9 : 17;

    for (int p = 1; p <= max; p++) {
        snprintf(tmp, size, "%.*e", p - 1, x);
        if (is_float ? strtof(tmp, NULL) == (float)x : strtod(tmp, NULL) == x)
            return;
    }
}

/* Python's repr layout: positional for 1e-4 <= |x| < 1e16, else scientific. */
static void format_float(char *buf, size_t size, double x, int is_float)
{
    char tmp[64], digits[32];
    size_t nd = 0, pos = 0;
    const char *s = tmp;
    int neg, exp10;

    if (isnan(x)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, "%sinf", x < 0 ? "-" : "");
        return;
    }
    shortest_exp(tmp, sizeof tmp, x, is_float);
    neg = *s == '-';
    s += neg;
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s))
            digits[nd++] = *s;
    exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';

    char out[96];
    if (neg)
        out[pos++] = '-';
    if (exp10 >= 16 || exp10 < -4) {
        out[pos++] = digits[0];
        if (nd > 1) {
            out[pos++] = '.';
            memcpy(out + pos, digits + 1, nd - 1);
            pos += nd - 1;
        }
        snprintf(out + pos, sizeof out - pos, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            out[pos++] = (size_t)i < nd ? digits[i] : '0';
        out[pos++] = '.';
        if (nd > (size_t)exp10 + 1) {
            memcpy(out + pos, digits + exp10 + 1, nd - (size_t)exp10 - 1);
            pos += nd - (size_t)exp10 - 1;
        } else {
            out[pos++] = '0';
        }
        out[pos] = '\0';
    } else {
        out[pos++] = '0';
        out[pos++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            out[pos++] = '0';
        memcpy(out + pos, digits, nd + 1);
    }
    snprintf(buf, size, "%s", out);
}

char *cli_format_value(char *buf, size_t size, mproc_dtype dtype, const void *data,
                       size_t index)
{
    const char *p = (const char *)data + index * mproc_dtype_size(dtype);

#define CLI_FMT_INT(T, CAST, SPEC)                                                         \
    do {                                                                                   \
        T v;                                                                               \
        memcpy(&v, p, sizeof v);                                                           \
        snprintf(buf, size, SPEC, (CAST)v);                                                \
    } while (0)

    switch (dtype) {
    case MPROC_INT8: CLI_FMT_INT(int8_t, long long, "%lld"); break;
    case MPROC_UINT8: CLI_FMT_INT(uint8_t, unsigned long long, "%llu"); break;
    case MPROC_INT16: CLI_FMT_INT(int16_t, long long, "%lld"); break;
    case MPROC_UINT16: CLI_FMT_INT(uint16_t, unsigned long long, "%llu"); break;
    case MPROC_INT32: CLI_FMT_INT(int32_t, long long, "%lld"); break;
    case MPROC_UINT32: CLI_FMT_INT(uint32_t, unsigned long long, "%llu"); break;
    case MPROC_INT64: CLI_FMT_INT(int64_t, long long, "%lld"); break;
    case MPROC_UINT64: CLI_FMT_INT(uint64_t, unsigned long long, "%llu"); break;
    case MPROC_FLOAT32: {
        float f;
        memcpy(&f, p, sizeof f);
        format_float(buf, size, f, 1);
        break;
    }
    case MPROC_FLOAT64: {
        double d;
        memcpy(&d, p, sizeof d);
        format_float(buf, size, d, 0);
        break;
    }
    default: snprintf(buf, size, "?"); break;
    }
#undef CLI_FMT_INT
    return buf;
}

/* ---- fill ------------------------------------------------------------------------- */

void cli_fill_index(mproc_dtype dtype, void *data, uint64_t start, size_t count)
{
    /* Signed and unsigned variants of one type may alias, so integers are written
     * through the unsigned type: the wrap is defined there. */
#define CLI_FILL(T)                                                                        \
    do {                                                                                   \
        T *d = data;                                                                       \
        for (size_t k = 0; k < count; k++)                                                 \
            d[k] = (T)(start + k);                                                         \
    } while (0)

    switch (dtype) {
    case MPROC_INT8: case MPROC_UINT8: CLI_FILL(uint8_t); break;
    case MPROC_INT16: case MPROC_UINT16: CLI_FILL(uint16_t); break;
    case MPROC_INT32: case MPROC_UINT32: CLI_FILL(uint32_t); break;
    case MPROC_INT64: case MPROC_UINT64: CLI_FILL(uint64_t); break;
    case MPROC_FLOAT32: CLI_FILL(float); break;
    case MPROC_FLOAT64: CLI_FILL(double); break;
    default: break;
    }
#undef CLI_FILL
}

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

/* SplitMix64's output function: a bijection that spreads each bit of a counter over
 * every bit of the result. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void cli_fill_random(mproc_dtype dtype, void *data, uint64_t seed, uint64_t start,
                     size_t count)
{
    /* SplitMix64 is a counter: output k (from 1) is mix64(seed + k * gamma), so any
     * element can be computed on its own. Unsigned arithmetic wraps, as it should. */
#define CLI_RAND(T, EXPR)                                                                  \
    do {                                                                                   \
        T *d = data;                                                                       \
        for (size_t k = 0; k < count; k++) {                                               \
            uint64_t x = mix64(seed + (start + k + 1) * GOLDEN_GAMMA);                     \
            d[k] = (EXPR);                                                                 \
        }                                                                                  \
    } while (0)

    switch (dtype) {
    case MPROC_INT8: case MPROC_UINT8: CLI_RAND(uint8_t, (uint8_t)x); break;
    case MPROC_INT16: case MPROC_UINT16: CLI_RAND(uint16_t, (uint16_t)x); break;
    case MPROC_INT32: case MPROC_UINT32: CLI_RAND(uint32_t, (uint32_t)x); break;
    case MPROC_INT64: case MPROC_UINT64: CLI_RAND(uint64_t, x); break;
    case MPROC_FLOAT32: CLI_RAND(float, (float)(x >> 40) * 0x1.0p-24f); break;
    case MPROC_FLOAT64: CLI_RAND(double, (double)(x >> 11) * 0x1.0p-53); break;
    default: break;
    }
#undef CLI_RAND
}

/* ---- arrays, users, JSON ---------------------------------------------------------- */

int cli_array_error(const char *action, const char *name, int err)
{
    switch (err) {
    case MPROC_ENOENT:
        cli_error("no array named %s", name);
        return CLI_EXIT_FAIL;
    case MPROC_EEXIST:
        cli_error("%s already exists", name);
        return CLI_EXIT_FAIL;
    case MPROC_ENAME:
        cli_error("invalid array name '%s': 1 to %d characters from A-Z a-z 0-9 . _ - "
                  "(not . or ..), after an optional '/'", name, MPROC_NAME_MAX);
        return CLI_EXIT_USAGE;
    case MPROC_EOVERFLOW:
        cli_error("%s %s: %s", action, name, mproc_strerror(err));
        return CLI_EXIT_USAGE;
    default:
        cli_error("%s %s: %s", action, name, mproc_strerror(err));
        return CLI_EXIT_FAIL;
    }
}

const char *cli_user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res != NULL && res->pw_name)
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "%lu", (unsigned long)uid);
    return buf;
}

void cli_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

/* ---- time ------------------------------------------------------------------------- */

double cli_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double cli_median(double *times, size_t count)
{
    if (count == 0)
        return 0.0;
    qsort(times, count, sizeof *times, cmp_double);
    if (count % 2)
        return times[count / 2];
    return (times[count / 2 - 1] + times[count / 2]) / 2.0;
}

/* ---- signals ---------------------------------------------------------------------- */

volatile sig_atomic_t cli_stop_signal;

/* "/dev/shm/NAME" of a half-made array, complete before exit_unlink_set is raised. */
static char exit_unlink_path[sizeof "/dev/shm/" + MPROC_NAME_MAX];
static volatile sig_atomic_t exit_unlink_set;

static void on_stop_signal(int sig)
{
    if (cli_stop_signal) {
        /* Asked twice: stop now; workers die with us (PDEATHSIG). unlink is
         * async-signal-safe, so a half-made array does not outlive us. */
        if (exit_unlink_set)
            unlink(exit_unlink_path);
        _exit(128 + sig);
    }
    cli_stop_signal = sig;
}

void cli_set_exit_unlink(const char *name)
{
    exit_unlink_set = 0;
    if (name == NULL)
        return;
    if (name[0] == '/')
        name++;
    snprintf(exit_unlink_path, sizeof exit_unlink_path, "/dev/shm/%s", name);
    exit_unlink_set = 1;
}

void cli_install_signal_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM};

    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa;

        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(sigs[i], &sa, NULL);
    }
}

int cli_stop_status(void)
{
    return 128 + (int)cli_stop_signal;
}

/* ---- progress --------------------------------------------------------------------- */

#define BAR_WIDTH 30
#define LINE_WIDTH 72

void cli_progress_start(cli_progress *p, double total_units)
{
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO);
    p->start = cli_now();
    p->total = total_units > 0 ? total_units : 1;
}

void cli_progress_update(cli_progress *p, const char *label, double done_units)
{
    double now;
    int same_label;

    if (!p->enabled)
        return;
    same_label = strcmp(p->label, label) == 0;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->done = done_units;
    now = cli_now();
    if (now - p->start < 1.0 || (same_label && now - p->last_draw < 0.1))
        return;

    double frac = p->done / p->total;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    int fill = (int)(frac * BAR_WIDTH + 0.5);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %6.1f s  %-*s", bar, (int)(frac * 100 + 0.5),
            now - p->start, LINE_WIDTH - BAR_WIDTH - 18, p->label);
    fflush(stderr);
    p->shown = 1;
    p->last_draw = now;
}

void cli_progress_finish(cli_progress *p)
{
    if (p->shown) {
        fprintf(stderr, "\r%*s\r", LINE_WIDTH, "");
        fflush(stderr);
    }
    p->shown = 0;
}
