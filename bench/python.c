/*
 * python.c - the Python peer: runs bench/py_peer.py with python3 (popen) and reads the
 * one JSON object it prints. The script is found through $MPROC_BENCH_PY, in the source
 * tree (its path is compiled in), or next to this executable.
 */
#include "bench.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "bench"
#endif

struct py_results g_py;

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int bench_find_on_path(const char *prog, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, size, "%.*s/%s", (int)len, path, prog);
        if (len > 0 && access(out, X_OK) == 0 && is_file(out))
            return 1;
        path += len + (end != NULL);
    }
    return 0;
}

static int find_script(char *out, size_t size)
{
    const char *env = getenv("MPROC_BENCH_PY");
    if (env && is_file(env)) {
        snprintf(out, size, "%s", env);
        return 1;
    }
    int k = snprintf(out, size, "%s/py_peer.py", BENCH_SOURCE_DIR);
    if (k > 0 && (size_t)k < size && is_file(out))
        return 1;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            k = snprintf(out, size, "%s/py_peer.py", exe);
            if (k > 0 && (size_t)k < size && is_file(out))
                return 1;
        }
    }
    return 0;
}

/* Appends `s` single-quoted for sh. */
static void shell_quote(char *buf, size_t size, const char *s)
{
    size_t len = strlen(buf);
    if (len + 1 < size)
        buf[len++] = '\'';
    for (; *s && len + 5 < size; s++) {
        if (*s == '\'') {
            memcpy(buf + len, "'\\''", 4);
            len += 4;
        } else {
            buf[len++] = *s;
        }
    }
    if (len + 1 < size)
        buf[len++] = '\'';
    buf[len] = '\0';
}

static double json_num(const char *json, const char *key, int *missing)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (p == NULL) {
        (*missing)++;
        return 0.0;
    }
    return strtod(p + strlen(pat), NULL);
}

static void json_str(const char *json, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(json, pat);
    out[0] = '\0';
    if (p == NULL)
        return;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (e)
        snprintf(out, size, "%.*s", (int)(e - p), p);
}

void python_run(struct py_results *r)
{
    memset(r, 0, sizeof *r);
    char py[PATH_MAX], script[PATH_MAX];
    if (!bench_find_on_path("python3", py, sizeof py)) {
        snprintf(r->error, sizeof r->error, "python3 not found on PATH");
        return;
    }
    if (!find_script(script, sizeof script)) {
        snprintf(r->error, sizeof r->error, "py_peer.py not found (set MPROC_BENCH_PY)");
        return;
    }
    char cmd[3 * PATH_MAX];
    cmd[0] = '\0';
    strcat(cmd, "exec ");
    shell_quote(cmd, sizeof cmd, py);
    strcat(cmd, " ");
    shell_quote(cmd, sizeof cmd, script);
    size_t len = strlen(cmd);
    snprintf(cmd + len, sizeof cmd - len,
             " --procs 2 --array-n %zu --map-n %zu --apply-calls %d --reps %d", g_opt.py_array_n,
             g_opt.py_map_n, g_opt.py_apply_calls, g_opt.reps);
    bench_log("python: %s", cmd);
    fflush(NULL);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        snprintf(r->error, sizeof r->error, "popen failed");
        return;
    }
    char *json = NULL;
    size_t cap = 0, used = 0, got;
    char buf[4096];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (used + got + 1 > cap) {
            cap = (used + got + 1) * 2;
            char *j = realloc(json, cap);
            if (j == NULL)
                bench_die("out of memory");
            json = j;
        }
        memcpy(json + used, buf, got);
        used += got;
    }
    int st = pclose(f);
    if (json == NULL || st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(r->error, sizeof r->error, "py_peer.py failed (status %d)", st);
        free(json);
        return;
    }
    json[used] = '\0';
    int missing = 0;
    json_str(json, "python", r->version, sizeof r->version);
    json_str(json, "start_method", r->start_method, sizeof r->start_method);
    r->procs = (int)json_num(json, "procs", &missing);
    r->array_n = json_num(json, "array_n", &missing);
    r->array_tasks = (int)json_num(json, "array_tasks", &missing);
    r->array_med = json_num(json, "array_s_med", &missing);
    r->array_min = json_num(json, "array_s_min", &missing);
    r->map_n = json_num(json, "map_n", &missing);
    r->map_med = json_num(json, "map_s_med", &missing);
    r->map_min = json_num(json, "map_s_min", &missing);
    r->apply_calls = json_num(json, "apply_calls", &missing);
    r->apply_med = json_num(json, "apply_s_med", &missing);
    r->apply_min = json_num(json, "apply_s_min", &missing);
    r->process_med = json_num(json, "process_s_med", &missing);
    r->process_min = json_num(json, "process_s_min", &missing);
    r->pool_med = json_num(json, "pool_s_med", &missing);
    r->pool_min = json_num(json, "pool_s_min", &missing);
    free(json);
    if (missing || r->array_med <= 0 || r->map_med <= 0) {
        snprintf(r->error, sizeof r->error, "py_peer.py output incomplete (%d keys missing)",
                 missing);
        return;
    }
    r->ok = 1;
    const char *py_section = "python";
    bench_record_raw(py_section, "python-array-square", "int32", (size_t)r->array_n, r->procs,
                     r->array_med, r->array_min, g_opt.reps, r->array_n,
                     "shared Array('i'), slices squared by Pool.map");
    bench_record_raw(py_section, "python-pool-map", "int", (size_t)r->map_n, r->procs,
                     r->map_med, r->map_min, g_opt.reps, r->map_n, "Pool.map(square, range(N))");
    bench_record_raw(py_section, "python-apply-async-get", "int", 1, r->procs, r->apply_med,
                     r->apply_min, g_opt.reps, 1, "apply_async(f, (x,)).get(), per call");
    bench_record_raw(py_section, "python-process-start-join", "", 0, 1, r->process_med,
                     r->process_min, g_opt.reps, 0, "Process(target=f).start(); join()");
    bench_record_raw(py_section, "python-pool-create-close", "", 0, r->procs, r->pool_med,
                     r->pool_min, g_opt.reps, 0, "Pool(2); close(); join()");
}
