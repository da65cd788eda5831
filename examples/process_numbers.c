/*
 * The seed program "four processes, each printing a different number", in C:
 *
 *     def print_number(number):
 *         print(f"Process {number}: {number}")
 *
 *     processes = []
 *     for number in [1, 2, 3, 4]:
 *         process = multiprocessing.Process(target=print_number, args=(number,))
 *         processes.append(process)
 *         process.start()
 *     for process in processes:
 *         process.join()
 *     print("All processes have finished.")
 *
 * The four processes run at the same time, so their lines come in any order; the last
 * line comes after every join.
 */
#include <mproc.h>
#include <stdio.h>

static int print_number(void *arg)
{
    int number = *(const int *)arg; /* the child's copy of the parent's memory */
    printf("Process %d: %d\n", number, number);
    return 0;
}

int main(void)
{
    static const int numbers[] = {1, 2, 3, 4};
    mproc_process *processes[4];
    int started = 0, rc = 0;
    while (started < 4 && (rc = mproc_process_start(&processes[started], print_number,
                                                     (void *)&numbers[started], NULL)) == 0)
        started++;
    for (int i = 0; i < started; i++) {
        int jrc = mproc_process_join(processes[i], -1);
        if (jrc == 0)
            jrc = mproc_process_close(processes[i]);
        if (rc == 0)
            rc = jrc;
    }
    if (rc != 0) {
        fprintf(stderr, "process: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("All processes have finished.\n");
    return 0;
}
