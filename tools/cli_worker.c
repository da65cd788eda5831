/*
 * cli_worker.c - `mproc worker --pool NAME`: a worker started by hand (or by any
 * launcher) that joins a pool created with a name (MPROC_START_MANUAL, see mproc.h),
 * runs its maps until the pool goes away, and leaves cleanly on SIGINT / SIGTERM /
 * SIGHUP: the map in progress is finished first, then its slot is free again.
 *
 * The same binary is what spawned pools start (`mproc --mproc-worker ...`); that path
 * is mproc_spawn_main, called first thing in main.
 */
#include "cli_worker.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "mproc.h"

void cli_worker_usage(FILE *f)
{
    fputs("usage: mproc worker --pool NAME [--verbose]\n"
          "\n"
          "Joins the pool whose control segment is /dev/shm/NAME (a pool created with\n"
          "options.name, usually with start_method MPROC_START_MANUAL) as one of its\n"
          "worker processes, and runs its maps until the pool is destroyed or its\n"
          "creator dies. SIGINT, SIGTERM or SIGHUP make it leave cleanly: it finishes the\n"
          "map in progress and frees its slot. A worker killed instead (SIGKILL) is\n"
          "handled like any dead worker: its chunk is recovered, exactly once.\n"
          "\n"
          "  --pool NAME   the pool to join (required)\n"
          "  -v, --verbose say on stderr when it joins and when it leaves\n"
          "  -h, --help    print this help\n"
          "\n"
          "exit status: 0 after leaving; 1 when the pool cannot be joined (no such pool,\n"
          "no free worker slot, another mproc version); 2 usage error.\n",
          f);
}

static void on_leave_signal(int sig)
{
    (void)sig;
    mproc_worker_stop(); /* async-signal-safe: sets a flag the worker loop reads */
}

static void install_leave_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_leave_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; /* no SA_RESTART: a sleeping worker wakes up to look */
        sigaction(sigs[i], &sa, NULL);
    }
}

int cli_worker_main(int argc, char **argv)
{
    const char *pool = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cli_worker_usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            verbose = 1;
        } else if (!strncmp(arg, "--pool=", 7)) {
            pool = arg + 7;
        } else if (!strcmp(arg, "--pool")) {
            if (i + 1 >= argc) {
                cli_error("option --pool needs a value");
                return CLI_EXIT_USAGE;
            }
            pool = argv[++i];
        } else if (arg[0] == '-') {
            cli_error("unknown option '%s' for worker (try 'mproc help worker')", arg);
            return CLI_EXIT_USAGE;
        } else {
            cli_error("unexpected argument '%s' (the pool is given with --pool)", arg);
            return CLI_EXIT_USAGE;
        }
    }
    if (pool == NULL || pool[0] == '\0') {
        cli_error("worker needs --pool NAME");
        return CLI_EXIT_USAGE;
    }
    install_leave_handlers();
    if (verbose)
        fprintf(stderr, "mproc worker %ld: joining pool %s\n", (long)getpid(), pool);
    int rc = mproc_worker_serve(pool);
    if (rc == MPROC_ENAME || rc == MPROC_EINVAL) {
        cli_error("invalid pool name '%s'", pool);
        return CLI_EXIT_USAGE;
    }
    if (rc != 0) {
        cli_error("cannot serve pool %s: %s", pool,
                  rc == MPROC_ENOENT ? "no such pool" : mproc_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    if (verbose)
        fprintf(stderr, "mproc worker %ld: left pool %s\n", (long)getpid(), pool);
    return CLI_EXIT_OK;
}
