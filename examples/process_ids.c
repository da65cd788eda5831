/*
 * The seed program with process ids and is_alive, in C:
 *
 *     def worker1():
 *         print("ID of process running worker1: {}".format(os.getpid()))
 *     def worker2():
 *         print("ID of process running worker2: {}".format(os.getpid()))
 *
 *     print("ID of main process: {}".format(os.getpid()))
 *     p1 = multiprocessing.Process(target=worker1)
 *     p2 = multiprocessing.Process(target=worker2)
 *     p1.start()
 *     p2.start()
 *     print("ID of process p1: {}".format(p1.pid))
 *     print("ID of process p2: {}".format(p2.pid))
 *     p1.join()
 *     p2.join()
 *     print("Both processes finished execution!")
 *     print("Process p1 is alive: {}".format(p1.is_alive()))
 *     print("Process p2 is alive: {}".format(p2.is_alive()))
 *
 * The workers' lines and the "ID of process p1/p2" lines race; the rest is in order.
 */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

static int worker(void *arg)
{
    printf("ID of process running %s: %d\n", (const char *)arg, (int)getpid());
    return 0;
}

static const char *py_bool(int alive)
{
    return alive == 1 ? "True" : alive == 0 ? "False" : "error";
}

int main(void)
{
    mproc_process *p1, *p2;
    printf("ID of main process: %d\n", (int)getpid());
    int rc = mproc_process_start(&p1, worker, "worker1", NULL);
    if (rc != 0) {
        fprintf(stderr, "p1: %s\n", mproc_strerror(rc));
        return 1;
    }
    if ((rc = mproc_process_start(&p2, worker, "worker2", NULL)) != 0) {
        fprintf(stderr, "p2: %s\n", mproc_strerror(rc));
        mproc_process_join(p1, -1);
        mproc_process_close(p1);
        return 1;
    }
    printf("ID of process p1: %d\n", (int)mproc_process_pid(p1));
    printf("ID of process p2: %d\n", (int)mproc_process_pid(p2));
    int rc1 = mproc_process_join(p1, -1), rc2 = mproc_process_join(p2, -1);
    printf("Both processes finished execution!\n");
    printf("Process p1 is alive: %s\n", py_bool(mproc_process_is_alive(p1)));
    printf("Process p2 is alive: %s\n", py_bool(mproc_process_is_alive(p2)));
    if (rc1 == 0)
        rc1 = mproc_process_close(p1);
    if (rc2 == 0)
        rc2 = mproc_process_close(p2);
    return rc1 == 0 && rc2 == 0 ? 0 : 1;
}
