/*
 * The seed's I/O-bound job, in C: ten "downloads" one after the other, then the same ten
 * on a pool, with both times printed side by side.
 *
 *     t1 = time.perf_counter()
 *     for i in range(10):
 *         downloadfile(link, f'name{i}')
 *     t2 = time.perf_counter()
 *     print(f'Normal method took          : {t2-t1} seconds to download 10 images')
 *     ... the same with multiprocessing ...
 *     print(f'Multiprocessing method took : {t2-t1} seconds to download 10 images')
 *
 * There is no network here: a download is a task that waits DOWNLOAD_MS milliseconds
 * (the time a server would take) and returns a checksum of what it "received". Tasks
 * that wait, like tasks that do I/O, overlap on a pool even with more workers than CPUs.
 */
#include <mproc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define IMAGES 10
#define DOWNLOAD_MS 50

typedef struct download {
    char url[64];
    char name[16];
} download;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int downloadfile(const void *arg, size_t arg_size, void *result, size_t *result_size)
{
    (void)arg_size;
    const download *d = arg;
    struct timespec wait = {0, DOWNLOAD_MS * 1000000L};
    while (nanosleep(&wait, &wait) != 0) {
    }
    uint32_t sum = 2166136261u; /* FNV-1a of what we pretend to have fetched */
    for (const char *p = d->url; *p; p++)
        sum = (sum ^ (unsigned char)*p) * 16777619u;
    for (const char *p = d->name; *p; p++)
        sum = (sum ^ (unsigned char)*p) * 16777619u;
    memcpy(result, &sum, sizeof sum);
    *result_size = sizeof sum;
    return 0;
}

int main(void)
{
    download jobs[IMAGES];
    uint32_t serial[IMAGES], pooled[IMAGES];
    for (int i = 0; i < IMAGES; i++) {
        snprintf(jobs[i].url, sizeof jobs[i].url, "https://picsum.photos/id/1/2000/3000");
        snprintf(jobs[i].name, sizeof jobs[i].name, "name%d", i);
    }

    double t1 = now();
    for (int i = 0; i < IMAGES; i++) {
        size_t size = sizeof serial[i];
        downloadfile(&jobs[i], sizeof jobs[i], &serial[i], &size);
    }
    double t2 = now();
    printf("Normal method took          : %.6f seconds to download %d images\n", t2 - t1,
           IMAGES);

    mproc_pool_options opts;
    mproc_pool_options_init(&opts);
    opts.workers = IMAGES; /* one process per download, as the seed starts them */
    opts.caller_works = 0;
    mproc_pool *pool;
    int rc = mproc_pool_create(&pool, &opts);
    if (rc == 0) {
        mproc_task_options topts;
        mproc_task_options_init(&topts);
        topts.chunksize = 1; /* one download per task, so that they all overlap */
        t1 = now();
        rc = mproc_task_map(pool, downloadfile, jobs, sizeof jobs[0], IMAGES, pooled,
                            sizeof pooled[0], &topts);
        t2 = now();
        mproc_pool_destroy(pool);
    }
    if (rc != 0 || memcmp(serial, pooled, sizeof serial) != 0) {
        fprintf(stderr, "pool: %s\n", rc ? mproc_strerror(rc) : "results differ");
        return 1;
    }
    printf("Multiprocessing method took : %.6f seconds to download %d images\n", t2 - t1,
           IMAGES);
    return 0;
}
