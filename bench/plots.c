/*
 * plots.c - the PNG plots of mproc-bench: data files (.dat), a gnuplot script (plots.gp,
 * kept next to them so that the plots can be redrawn) and one gnuplot run, all in the
 * output directory. The pngcairo terminal, or libgd's png where gnuplot has no cairo.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double speedup(const struct bench_result *r, const struct bench_result *serial)
{
    return r && serial && r->med > 0 ? serial->med / r->med : 0.0;
}

static const char *plot_methods[] = {"limit", "serial", "openmp", "openmp-own-array", "pthreads",
                                     "mproc", "mproc-direct"};
#define NPLOT_METHODS 7

static int write_square_dat(const char *dir, const char *dtype, int w, const size_t *sizes,
                            int nsizes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/square_%s_w%d.dat", dir, dtype, w);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "n");
    for (int k = 0; k < NPLOT_METHODS; k++)
        fprintf(f, " %s", plot_methods[k]);
    fprintf(f, "\n");
    for (int s = 0; s < nsizes; s++) {
        fprintf(f, "%zu", sizes[s]);
        for (int k = 0; k < NPLOT_METHODS; k++) {
            const struct bench_result *r =
                k == 1 ? bench_fastest("square", "serial", dtype, sizes[s])
                       : bench_find("square", plot_methods[k], dtype, sizes[s], w);
            if (r && r->med > 0)
                fprintf(f, " %.4f", r->bytes / r->med / 1e9);
            else
                fprintf(f, " NaN");
        }
        fprintf(f, "\n");
    }
    return fclose(f);
}

static int write_compute_dat(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/compute_speedup.dat", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        if (f)
            fclose(f);
        return -1;
    }
    fprintf(f, "workers ideal openmp pthreads mproc mproc-direct\n");
    for (int i = 0; i < g_opt.nw; i++) {
        int w = g_opt.wlist[i];
        fprintf(f, "%d %d", w, w);
        const struct bench_result *s = bench_fastest("compute", "serial", NULL, 0);
        const char *ms[4] = {"openmp", "pthreads", "mproc", "mproc-direct"};
        for (int k = 0; k < 4; k++) {
            const struct bench_result *r = bench_find("compute", ms[k], NULL, 0, w);
            if (r)
                fprintf(f, " %.4f", speedup(r, s));
            else
                fprintf(f, " NaN");
        }
        fprintf(f, "\n");
    }
    return fclose(f);
}

static int write_script(const char *dir, const char *terminal, int wmax, const char *cpu)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/plots.gp", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "# written by mproc-bench; run in this directory: gnuplot plots.gp\n");
    fprintf(f, "set terminal %s size 1100,600 noenhanced\nset grid\nset key outside right top\n", terminal);
    fprintf(f, "set logscale x\nset xlabel 'n (elements)'\n");
    fprintf(f, "set ylabel 'GB/s (2 x n x element size / median time)'\nset yrange [0:*]\n");
    fprintf(f, "set format x '%%.0e'\n");
    const char *dts[2] = {"int32", "float64"};
    int ws[2] = {wmax, 1};
    for (int d = 0; d < 2; d++) {
        for (int k = 0; k < (wmax == 1 ? 1 : 2); k++) {
            fprintf(f, "set output 'square_%s_w%d.png'\n", dts[d], ws[k]);
            fprintf(f, "set title 'In-place square, %s, %d worker(s) - %s'\n", dts[d], ws[k], cpu);
            fprintf(f, "plot for [c=2:%d] 'square_%s_w%d.dat' using 1:c with linespoints lw 2 "
                       "title columnheader(c)\n",
                    NPLOT_METHODS + 1, dts[d], ws[k]);
        }
    }
    fprintf(f, "unset logscale x\nset format x '%%g'\nset xlabel 'workers'\nset xtics 1\n"
               "set ylabel 'speedup vs serial'\n");
    fprintf(f, "set output 'compute_speedup.png'\n");
    fprintf(f, "set title 'Compute-bound kernel (%d flops/element): speedup - %s'\n",
            COMPUTE_FLOPS_PER_ELEM, cpu);
    fprintf(f, "set yrange [0:%g]\n", wmax + 0.5);
    fprintf(f, "plot for [c=3:6] 'compute_speedup.dat' using 1:c with linespoints lw 2 "
               "title columnheader(c), '' using 1:2 with lines dt 2 lw 2 lc 'black' "
               "title 'ideal'\n");
    return fclose(f);
}

static int run_gnuplot(const char *dir)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        if (freopen("gnuplot.log", "w", stderr) == NULL)
            _exit(126);
        execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void report_plots(const char *dir)
{
    char gp[4096];
    if (!bench_find_on_path("gnuplot", gp, sizeof gp)) {
        bench_log("plots: gnuplot not on PATH, none made (data files only)");
    }
    int wmax = g_opt.wlist[g_opt.nw - 1];
    int bad = 0;
    for (int d = 0; d < 2; d++) {
        const size_t *sz = d ? g_opt.f64_sizes : g_opt.sizes;
        int ns = d ? g_opt.nf64 : g_opt.nsizes;
        bad |= write_square_dat(dir, d ? "float64" : "int32", wmax, sz, ns);
        if (wmax != 1)
            bad |= write_square_dat(dir, d ? "float64" : "int32", 1, sz, ns);
    }
    bad |= write_compute_dat(dir);
    char cpu[128] = "", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "model name : %127[^\n]", cpu) == 1)
            break;
    if (f)
        fclose(f);
    for (char *p = cpu; *p; p++)
        if (*p == '\'')
            *p = ' ';
    if (bad || write_script(dir, "pngcairo", wmax, cpu) != 0) {
        bench_log("plots: cannot write the data files in %s", dir);
        return;
    }
    if (!bench_find_on_path("gnuplot", gp, sizeof gp))
        return;
    if (run_gnuplot(dir) != 0) { /* a gnuplot without cairo: the libgd png terminal */
        if (write_script(dir, "png", wmax, cpu) != 0 || run_gnuplot(dir) != 0) {
            bench_log("plots: gnuplot failed, see %s/gnuplot.log", dir);
            return;
        }
    }
    bench_log("plots: %s/square_int32_w%d.png, %s/compute_speedup.png and more", dir, wmax, dir);
}
