/* cli_square.h - the `mproc square` command. */
#ifndef MPROC_CLI_SQUARE_H
#define MPROC_CLI_SQUARE_H

#include <stdio.h>

/* Runs `mproc square ...`; argv[0] is "square". Returns the process exit status. */
int cli_square_main(int argc, char **argv);

/* Writes the usage text of `mproc square` to f. */
void cli_square_usage(FILE *f);

#endif /* MPROC_CLI_SQUARE_H */
