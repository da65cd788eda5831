/*
 * The seed program "create a process", in C:
 *
 *     def test():
 *         print("this is my multiprocessing prog")
 *
 *     m = multiprocessing.Process(target=test)
 *     print("this is my main prog")
 *     m.start()
 *     m.join()
 *
 * prints
 *     this is my main prog
 *     this is my multiprocessing prog
 */
#include <mproc.h>
#include <stdio.h>

static int test(void *arg)
{
    (void)arg;
    printf("this is my multiprocessing prog\n");
    return 0;
}

int main(void)
{
    mproc_process *m;
    printf("this is my main prog\n"); /* start flushes it: it is not printed twice */
    int rc = mproc_process_start(&m, test, NULL, NULL);
    if (rc == 0 && (rc = mproc_process_join(m, -1)) == 0)
        rc = mproc_process_close(m);
    if (rc != 0) {
        fprintf(stderr, "process: %s\n", mproc_strerror(rc));
        return 1;
    }
    return 0;
}
