/*
 * The seed programs' pools, in C: a pool of 4 maps square over [1..5], another maps
 * factorial over [5..9].
 *
 *     def square(x):
 *         return x * x
 *     with multiprocessing.Pool(processes=4) as pool:
 *         results = pool.map(square, [1, 2, 3, 4, 5])
 *         print("Results:", results)          ->  Results: [1, 4, 9, 16, 25]
 *
 *     def calculate_factorial(number):
 *         return math.factorial(number)
 *     with multiprocessing.Pool(processes=4) as pool:
 *         results = pool.map(calculate_factorial, [5, 6, 7, 8, 9])
 *     print("Factorials:", results)           ->  Factorials: [120, 720, 5040, 40320, 362880]
 *
 * A task takes its argument and writes its result as bytes (here one int64 each); the
 * functions run in the pool's worker processes.
 */
#include <mproc.h>
#include <stdio.h>
#include <string.h>

static int square(const void *arg, size_t arg_size, void *result, size_t *result_size)
{
    (void)arg_size;
    int64_t x;
    memcpy(&x, arg, sizeof x);
    x *= x;
    memcpy(result, &x, sizeof x);
    *result_size = sizeof x;
    return 0;
}

static int calculate_factorial(const void *arg, size_t arg_size, void *result,
                               size_t *result_size)
{
    (void)arg_size;
    int64_t n, f = 1;
    memcpy(&n, arg, sizeof n);
    if (n < 0 || n > 20)
        return mproc_task_fail(1, "factorial(%lld) does not fit in 64 bits", (long long)n);
    for (int64_t i = 2; i <= n; i++)
        f *= i;
    memcpy(result, &f, sizeof f);
    *result_size = sizeof f;
    return 0;
}

static void print_list(const char *label, const int64_t *v, size_t n)
{
    printf("%s [", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", (long long)v[i]);
    printf("]\n");
}

/* Python's Pool(processes=4): 4 worker processes, the caller only waits. */
static mproc_pool *pool_of(int processes)
{
    mproc_pool_options opts;
    mproc_pool_options_init(&opts);
    opts.workers = processes;
    opts.caller_works = 0;
    mproc_pool *pool = NULL;
    int rc = mproc_pool_create(&pool, &opts);
    if (rc != 0)
        fprintf(stderr, "pool: %s\n", mproc_strerror(rc));
    return pool;
}

int main(void)
{
    const int64_t numbers[] = {1, 2, 3, 4, 5}, more[] = {5, 6, 7, 8, 9};
    int64_t results[5];
    mproc_pool *pool = pool_of(4);
    if (pool == NULL)
        return 1;
    int rc = mproc_task_map(pool, square, numbers, sizeof numbers[0], 5, results,
                            sizeof results[0], NULL);
    if (rc == 0)
        print_list("Results:", results, 5);
    mproc_pool_destroy(pool);

    if (rc == 0 && (pool = pool_of(4)) != NULL) {
        rc = mproc_task_map(pool, calculate_factorial, more, sizeof more[0], 5, results,
                            sizeof results[0], NULL);
        mproc_pool_destroy(pool);
        if (rc == 0)
            print_list("Factorials:", results, 5);
    }
    if (rc != 0)
        fprintf(stderr, "map: %s\n", mproc_strerror(rc));
    return rc == 0 && pool != NULL ? 0 : 1;
}
