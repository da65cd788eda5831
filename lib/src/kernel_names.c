/*
 * kernel_names.c - kernels by name: the built-in ops, kernels registered in this
 * process, and kernel libraries loaded with dlopen. Spawned and hand-started workers
 * get a kernel's name from the job and look it up here, in their own process.
 *
 * The registry is a small array under a mutex: lookups happen once per job in a worker
 * (and once per map in the caller), never per chunk.
 */
#include "internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char name[MPROC_KERNEL_NAME_MAX + 1];
    mproc_dtype dtype;
    mproc_kernel fn;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;
static size_t count, cap;
static char **loaded; /* paths loaded by mproc_kernel_load */
static size_t nloaded;

int mproc__kernel_name_check(const char *name)
{
    size_t len = strnlen(name, MPROC_KERNEL_NAME_MAX + 1);
    if (len == 0 || len > MPROC_KERNEL_NAME_MAX)
        return MPROC_EKERNELNAME;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return MPROC_EKERNELNAME;
    }
    return 0;
}

static int check_def(const char *name, mproc_dtype dtype, mproc_kernel fn)
{
    if (name == NULL || fn == NULL)
        return MPROC_EINVAL;
    int rc = mproc__kernel_name_check(name);
    if (rc != 0)
        return rc;
    mproc_op op;
    if (mproc_op_parse(name, &op) == 0)
        return MPROC_EINVAL; /* built-in names stay built-in */
    if (dtype != MPROC_DTYPE_ANY && !mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    return 0;
}

/* Adds or replaces; lock held. */
static int put(const char *name, mproc_dtype dtype, mproc_kernel fn)
{
    for (size_t i = 0; i < count; i++) {
        if (entries[i].dtype == dtype && strcmp(entries[i].name, name) == 0) {
            entries[i].fn = fn;
            return 0;
        }
    }
    if (count == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        struct entry *n = realloc(entries, ncap * sizeof *n);
        if (n == NULL)
            return MPROC_ENOMEM;
        entries = n;
        cap = ncap;
    }
    struct entry *e = &entries[count++];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name); /* length checked by check_def */
    e->dtype = dtype;
    e->fn = fn;
    return 0;
}

MPROC_API int mproc_kernel_register(const char *name, mproc_dtype dtype, mproc_kernel fn)
{
    int rc = check_def(name, dtype, fn);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&lock);
    rc = put(name, dtype, fn);
    pthread_mutex_unlock(&lock);
    return rc;
}

MPROC_API int mproc_kernel_find(const char *name, mproc_dtype dtype, mproc_kernel *out)
{
    if (name == NULL || out == NULL)
        return MPROC_EINVAL;
    if (!mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    mproc_op op;
    if (mproc_op_parse(name, &op) == 0)
        return mproc_kernel_get(op, dtype, out);
    int rc = MPROC_EKERNELNAME;
    pthread_mutex_lock(&lock);
    const struct entry *any = NULL;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(entries[i].name, name) != 0)
            continue;
        if (entries[i].dtype == dtype) {
            *out = entries[i].fn;
            rc = 0;
            break;
        }
        if (entries[i].dtype == MPROC_DTYPE_ANY)
            any = &entries[i];
    }
    if (rc != 0 && any != NULL) {
        *out = any->fn;
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* The name a kernel pointer is known under here (a built-in or a registered kernel),
 * so that mproc_map can send it to workers that cannot use the pointer. Returns 0 and
 * copies the name, or MPROC_ESPAWNED. */
int mproc__kernel_name_of(mproc_kernel fn, mproc_dtype dtype, char out[MPROC_KERNEL_NAME_MAX + 1])
{
    for (int op = MPROC_OP_SQUARE; op <= MPROC_OP_MUL; op++) {
        mproc_kernel k;
        if (mproc_kernel_get((mproc_op)op, dtype, &k) == 0 && k == fn) {
            strcpy(out, mproc_op_name((mproc_op)op));
            return 0;
        }
    }
    int rc = MPROC_ESPAWNED;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count && rc != 0; i++) {
        if (entries[i].fn == fn && (entries[i].dtype == dtype || entries[i].dtype == MPROC_DTYPE_ANY)) {
            strcpy(out, entries[i].name);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

MPROC_API int mproc_kernel_load(const char *path)
{
    if (path == NULL)
        return MPROC_EINVAL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nloaded; i++) {
        if (strcmp(loaded[i], path) == 0) {
            pthread_mutex_unlock(&lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&lock);

    /* A bare file name would make dlopen search the library path; a kernel library is
     * named by its path. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        return MPROC_ELIBRARY;
    const mproc_kernel_def *table = dlsym(h, MPROC_KERNEL_TABLE);
    if (table == NULL)
        return MPROC_ELIBRARY; /* not unloaded: dlclose of a library that ran
                                  constructors is not always safe */
    size_t n = 0;
    for (; table[n].name != NULL; n++) {
        if (n >= 4096 || check_def(table[n].name, table[n].dtype, table[n].fn) != 0)
            return MPROC_ELIBRARY;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        return MPROC_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&lock);
    char **nl = realloc(loaded, (nloaded + 1) * sizeof *nl);
    if (nl == NULL) {
        rc = MPROC_ENOMEM;
        free(copy);
    } else {
        loaded = nl;
        loaded[nloaded++] = copy;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = put(table[i].name, table[i].dtype, table[i].fn);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}
