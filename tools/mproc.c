/*
 * mproc.c - the `mproc` command: dispatch, help and version.
 *
 * Exit status: 0 success, 1 verification mismatch, no such array, an array that exists
 * already or a failure during a run, 2 usage error (one line "mproc: <reason>" on
 * stderr), 128 + signal when SIGINT or SIGTERM stopped a run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli_array.h"
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
          "transformed in place by a pool of worker processes.\n"
          "\n"
          "commands:\n"
          "  square     square an array in place with a worker pool\n"
          "             (mproc square --values 2,3,4 | mproc square --n 1e8 --verify)\n"
          "  create     create a named array in /dev/shm (--dtype, --n, --fill, --values)\n"
          "  map        apply a kernel to a named array with a worker pool (square, cube,\n"
          "             negate, abs, add, mul), in place or into a new array (--out)\n"
          "  show       print a named array's values, as Python prints a list\n"
          "  info       print a named array's dtype, length, owner, creator, ...\n"
          "  rm         remove named arrays\n"
          "  ls         list your named arrays in /dev/shm: creator alive? kept?\n"
          "  gc         remove your named arrays whose creator is dead, unless kept\n"
          "             (--dry-run; create's arrays are kept: remove them with rm)\n"
          "  worker     join a pool by name as one of its workers (--pool NAME)\n"
          "  version    print the version\n"
          "  help       print this help (mproc help square: the command's help)\n"
          "\n"
          "options:\n"
          "  -h, --help     print this help\n"
          "  -V, --version  print the version\n"
          "\n"
          "example: an array from the shell, squared by a pool, read back:\n"
          "  mproc create a --dtype int32 --n 7 --fill iota\n"
          "  mproc map a square\n"
          "  mproc show a                      [0, 1, 4, 9, 16, 25, 36]\n"
          "  mproc rm a\n"
          "\n"
          "exit status: 0 success; 1 a failure: verification mismatch, no such array, an\n"
          "array that exists already, a failed run; 2 usage error; 130 / 143 stopped by\n"
          "SIGINT / SIGTERM.\n",
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

/* The commands: argv[0] is the command's name when main is called. */
static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    void (*usage)(FILE *f);
} commands[] = {
    {"square", cli_square_main, cli_square_usage},   {"create", cli_create_main, cli_create_usage},
    {"map", cli_map_main, cli_map_usage},            {"show", cli_show_main, cli_show_usage},
    {"info", cli_info_main, cli_info_usage},         {"rm", cli_rm_main, cli_rm_usage},
    {"ls", cli_segments_main, cli_ls_usage},         {"gc", cli_segments_main, cli_gc_usage},
    {"worker", cli_worker_main, cli_worker_usage},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static int run(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        cli_error("missing command (try 'mproc --help')");
        return CLI_EXIT_USAGE;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        for (size_t i = 0; argc == 3 && !strcmp(cmd, "help") && i < COMMAND_COUNT; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                commands[i].usage(stdout);
                return CLI_EXIT_OK;
            }
        if (argc == 3 && !strcmp(cmd, "help") && argv[2][0] != '-') {
            cli_error("no help for unknown command '%s' (try 'mproc --help')", argv[2]);
            return CLI_EXIT_USAGE;
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
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
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
