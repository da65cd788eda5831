/* cli_worker.h - `mproc worker --pool NAME`: join a pool by hand and serve its maps. */
#ifndef MPROC_CLI_WORKER_H
#define MPROC_CLI_WORKER_H

#include <stdio.h>

/* Runs `mproc worker ...`; argv[0] is "worker". Returns the exit status. */
int cli_worker_main(int argc, char **argv);

/* Writes the usage text of `mproc worker` to f. */
void cli_worker_usage(FILE *f);

#endif /* MPROC_CLI_WORKER_H */
