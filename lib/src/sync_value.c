/*
 * sync_value.c - Value: one shared scalar of any dtype with its own lock.
 *
 * The lock is recursive (Python's Value uses an RLock too), so get/set/add can be called
 * between mproc_value_lock and mproc_value_unlock. Integer adds are done in unsigned
 * arithmetic of the dtype's width: they wrap, with no undefined behaviour.
 */
#include "sync_internal.h"

#include <string.h>

struct mproc_value {
    struct mproc__shared sh;
    pthread_mutex_t mutex;
    mproc_dtype dtype;
    size_t size;
    union {
        uint64_t u64;
        double f64;
        max_align_t align;
    } data;
};

MPROC_API int mproc_value_create(mproc_value **out, mproc_dtype dtype, const void *init)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (!mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    mproc_value *v;
    int rc = mproc__shared_alloc(sizeof *v, (void **)&v);
    if (rc != 0)
        return rc;
    rc = mproc__mutex_init(&v->mutex, PTHREAD_MUTEX_RECURSIVE);
    if (rc != 0) {
        mproc__shared_free(v);
        return rc;
    }
    v->dtype = dtype;
    v->size = mproc_dtype_size(dtype);
    if (init != NULL)
        memcpy(&v->data, init, v->size);
    *out = v;
    return 0;
}

MPROC_API mproc_dtype mproc_value_dtype(const mproc_value *value)
{
    return value == NULL ? MPROC_DTYPE_ANY : value->dtype;
}

/* Locks for one operation: 0 or MPROC_EOWNERDEAD (locked either way), else an error. */
static int op_lock(mproc_value *v)
{
    mproc__deadline forever;
    mproc__deadline_init(&forever, -1);
    return mproc__mutex_lock(&v->mutex, &forever);
}

static int op_finish(mproc_value *v, int lock_rc)
{
    mproc__mutex_unlock(&v->mutex);
    return lock_rc;
}

MPROC_API int mproc_value_get(mproc_value *value, void *out)
{
    if (value == NULL || out == NULL)
        return MPROC_EINVAL;
    int rc = op_lock(value);
    if (rc != 0 && rc != MPROC_EOWNERDEAD)
        return rc;
    memcpy(out, &value->data, value->size);
    return op_finish(value, rc);
}

MPROC_API int mproc_value_set(mproc_value *value, const void *in)
{
    if (value == NULL || in == NULL)
        return MPROC_EINVAL;
    int rc = op_lock(value);
    if (rc != 0 && rc != MPROC_EOWNERDEAD)
        return rc;
    memcpy(&value->data, in, value->size);
    return op_finish(value, rc);
}

#define ADD_AS(T)                                                                           \
    do {                                                                                    \
        T a_, b_;                                                                           \
        memcpy(&a_, data, sizeof a_);                                                       \
        memcpy(&b_, delta, sizeof b_);                                                      \
        a_ = (T)(a_ + b_);                                                                  \
        memcpy(data, &a_, sizeof a_);                                                       \
    } while (0)

/* data += delta for one element of dtype; signed integers through their unsigned type. */
static void add_in_place(mproc_dtype dtype, void *data, const void *delta)
{
    switch (dtype) {
    case MPROC_INT8:
    case MPROC_UINT8: ADD_AS(uint8_t); break;
    case MPROC_INT16:
    case MPROC_UINT16: ADD_AS(uint16_t); break;
    case MPROC_INT32:
    case MPROC_UINT32: ADD_AS(uint32_t); break;
    case MPROC_INT64:
    case MPROC_UINT64: ADD_AS(uint64_t); break;
    case MPROC_FLOAT32: ADD_AS(float); break;
    case MPROC_FLOAT64: ADD_AS(double); break;
    default: break;
    }
}

MPROC_API int mproc_value_add(mproc_value *value, const void *delta, void *result)
{
    if (value == NULL || delta == NULL)
        return MPROC_EINVAL;
    int rc = op_lock(value);
    if (rc != 0 && rc != MPROC_EOWNERDEAD)
        return rc;
    add_in_place(value->dtype, &value->data, delta);
    if (result != NULL)
        memcpy(result, &value->data, value->size);
    return op_finish(value, rc);
}

MPROC_API int mproc_value_lock(mproc_value *value, int timeout_ms)
{
    if (value == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    return rc != 0 ? rc : mproc__mutex_lock(&value->mutex, &d);
}

MPROC_API int mproc_value_unlock(mproc_value *value)
{
    return value == NULL ? MPROC_EINVAL : mproc__mutex_unlock(&value->mutex);
}

MPROC_API void *mproc_value_ptr(mproc_value *value)
{
    return value == NULL ? NULL : &value->data;
}

MPROC_API int mproc_value_destroy(mproc_value *value)
{
    if (value == NULL)
        return 0;
    if (mproc__mutex_held_here(&value->mutex))
        return MPROC_EBUSY;
    return mproc__shared_free(value);
}
