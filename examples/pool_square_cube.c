/*
 * The seed program's pool printing strings, in C:
 *
 *     def square_cube(n):
 *         return f'Square of {n} is {n*n} and it\'s Cube is {n*n*n}'
 *     with multiprocessing.Pool(processes=4) as pool:
 *         out = pool.map(square_cube, [1, 2, 3, 4, 5])
 *         for i in out:
 *             print(i)
 *
 *     Square of 1 is 1 and it's Cube is 1
 *     ...
 *     Square of 5 is 25 and it's Cube is 125
 *
 * Each task writes a string (a byte blob, NUL included) into its result slot of
 * RESULT_SIZE bytes; the map's results come back in order.
 */
#include <mproc.h>
#include <stdio.h>

#define RESULT_SIZE 64

static int square_cube(const void *arg, size_t arg_size, void *result, size_t *result_size)
{
    (void)arg_size;
    int n = *(const int *)arg;
    int len = snprintf(result, *result_size, "Square of %d is %d and it's Cube is %d", n,
                       n * n, n * n * n);
    if (len < 0 || (size_t)len >= *result_size)
        return mproc_task_fail(1, "%d bytes do not fit", len);
    *result_size = (size_t)len + 1;
    return 0;
}

int main(void)
{
    const int lst[] = {1, 2, 3, 4, 5};
    char out[5][RESULT_SIZE];
    mproc_pool_options opts;
    mproc_pool_options_init(&opts);
    opts.workers = 4; /* Pool(processes=4) */
    opts.caller_works = 0;
    mproc_pool *pool;
    int rc = mproc_pool_create(&pool, &opts);
    if (rc == 0) {
        rc = mproc_task_map(pool, square_cube, lst, sizeof lst[0], 5, out, RESULT_SIZE, NULL);
        mproc_pool_destroy(pool);
    }
    if (rc != 0) {
        fprintf(stderr, "pool: %s\n", mproc_strerror(rc));
        return 1;
    }
    for (int i = 0; i < 5; i++)
        printf("%s\n", out[i]);
    return 0;
}
