/*
 * mproc.c - the `mproc` command: dispatch, help and version.
 *
 * Exit status: 0 success, 1 verification mismatch or a failure during a run, 2 usage
 * error (one line "mproc: <reason>" on stderr), 128 + signal when SIGINT or SIGTERM
 * stopped a run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli_segments.h"
#include "cli_square.h"
#include "cli_util.h"
#include "cli_worker.h"
#include "mproc.h"

static void usage(FILE *f)
{
    fputs("usage: mproc <command> [options]\n"
          "\n"
          "Python's multiprocessing model for C: typed arrays in POSIX shared memory,\n"
          "transformed in place by a pool of forked worker processes.\n"
          "\n"
          "commands:\n"
          "  square     square an array in place with a worker pool\n"
          "             (mproc square --values 2,3,4 | mproc square --n 1e8 --verify)\n"
          "  ls         list your named arrays in /dev/shm and whether their creator lives\n"
          "  gc         remove your named arrays whose creator is dead (--dry-run)\n"
          "  worker     join a pool by name as one of its workers (--pool NAME)\n"
          "  version    print the version\n"
          "  help       print this help (mproc help square: the command's help)\n"
          "\n"
          "options:\n"
          "  -h, --help     print this help\n"
          "  -V, --version  print the version\n"
          "\n"
          "exit status: 0 success; 1 verification mismatch or a failure during a run;\n"
          "2 usage error; 130 / 143 stopped by SIGINT / SIGTERM.\n",
          f);
}

static int print_version(void)
{
    if (strcmp(mproc_version(), MPROC_VERSION_STRING) == 0)
        printf("mproc %s\n", mproc_version());
    else
        printf("mproc %s (library %s)\n", MPROC_VERSION_STRING, mproc_version());
    return CLI_EXIT_OK;
}

static int finish_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output: %s", strerror(errno));
        return status == CLI_EXIT_OK ? CLI_EXIT_FAIL : status;
    }
    return status;
}

static int run(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        cli_error("missing command (try 'mproc --help')");
        return CLI_EXIT_USAGE;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc == 3 && !strcmp(cmd, "help") && !strcmp(argv[2], "square")) {
            cli_square_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc == 3 && !strcmp(cmd, "help") && !strcmp(argv[2], "ls")) {
            cli_ls_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc == 3 && !strcmp(cmd, "help") && !strcmp(argv[2], "gc")) {
            cli_gc_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc == 3 && !strcmp(cmd, "help") && !strcmp(argv[2], "worker")) {
            cli_worker_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc > 2) {
            cli_error("unexpected argument '%s' after %s", argv[2], cmd);
            return CLI_EXIT_USAGE;
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        if (argc > 2) {
            cli_error("unexpected argument '%s' after %s", argv[2], cmd);
            return CLI_EXIT_USAGE;
        }
        return print_version();
    }
    if (!strcmp(cmd, "square"))
        return cli_square_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "ls") || !strcmp(cmd, "gc"))
        return cli_segments_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "worker"))
        return cli_worker_main(argc - 1, argv + 1);
    if (cmd[0] == '-')
        cli_error("unknown option '%s' (try 'mproc --help')", cmd);
    else
        cli_error("unknown command '%s' (try 'mproc --help')", cmd);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    mproc_spawn_main(argc, argv); /* a spawned pool's worker: serves, never returns */
    return finish_stdout(run(argc, argv));
}
