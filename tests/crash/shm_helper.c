/*
 * shm_helper.c - a tiny program for the ls/gc CLI tests: creates a named int32 array and
 * either exits at once without unlinking it (its creator is then dead: what `mproc gc`
 * reclaims) or stays alive until killed.
 *
 *   shm_helper NAME LENGTH exit    create, print "created PID", exit 0 (the segment stays)
 *   shm_helper NAME LENGTH live    create, print "ready PID", sleep until a signal
 *
 * Exit status: 0, 1 when the array cannot be created (message on stderr), 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mproc.h"

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "exit") != 0 && strcmp(argv[3], "live") != 0)) {
        fprintf(stderr, "usage: shm_helper NAME LENGTH exit|live\n");
        return 2;
    }
    char *end;
    unsigned long long n = strtoull(argv[2], &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "shm_helper: bad length '%s'\n", argv[2]);
        return 2;
    }
    mproc_array *a = NULL;
    int rc = mproc_array_create(&a, argv[1], MPROC_INT32, (size_t)n);
    if (rc != 0) {
        fprintf(stderr, "shm_helper: cannot create %s: %s\n", argv[1], mproc_strerror(rc));
        return 1;
    }
    int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < (size_t)n; i++)
        d[i] = (int32_t)i;
    mproc_array_close(a); /* unmaps; the name stays in /dev/shm */
    if (strcmp(argv[3], "exit") == 0) {
        printf("created %ld\n", (long)getpid());
        return 0;
    }
    printf("ready %ld\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
