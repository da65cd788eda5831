/*
 * The seed program, in C:
 *
 *     arr = multiprocessing.Array('i', [2, 3, 4, 5, 6, 7, 8])
 *     # 7 processes each square arr[i] in place
 *     print(list(arr))            ->  [4, 9, 16, 25, 36, 49, 64]
 */
#include <mproc.h>
#include <stdio.h>

int main(void)
{
    const int32_t values[] = {2, 3, 4, 5, 6, 7, 8};
    mproc_array *arr;
    mproc_pool *pool;
    mproc_pool_options opts;

    int rc = mproc_array_create_from(&arr, NULL, MPROC_INT32, values, 7);
    if (rc != 0) {
        fprintf(stderr, "array: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_pool_options_init(&opts);
    opts.workers = 7; /* the caller and 6 forked workers */
    opts.chunk = 1;   /* one element each, as in the seed */
    if ((rc = mproc_pool_create(&pool, &opts)) == 0) {
        rc = mproc_square(pool, arr);
        mproc_pool_destroy(pool);
    }
    if (rc != 0) {
        fprintf(stderr, "square: %s\n", mproc_strerror(rc));
        mproc_array_close(arr);
        return 1;
    }
    const int32_t *a = mproc_array_data(arr);
    printf("[");
    for (size_t i = 0; i < mproc_array_length(arr); i++)
        printf("%s%d", i ? ", " : "", a[i]);
    printf("]\n");
    return mproc_array_close(arr) == 0 ? 0 : 1;
}
