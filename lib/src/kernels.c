/*
 * kernels.c - the built-in range kernels, one per (op, dtype).
 *
 * Integer kernels compute in an unsigned type at least as wide as int (so that neither
 * the operation nor integer promotion can overflow a signed type) and convert back:
 * results wrap modulo 2^bits, with no undefined behaviour. The conversion of an
 * out-of-range unsigned value back to a signed type is implementation-defined in ISO C;
 * GCC and Clang define it as reduction modulo 2^bits, which is what we document.
 * The loops are simple enough for the compiler to vectorize (src may equal dst).
 */
#include "internal.h"

#include <math.h>
#include <stdatomic.h>

/*
 * Each kernel is compiled for AVX-512, AVX2 and the baseline, and the dynamic loader
 * picks the best the CPU has (an ifunc; static binaries too). The baseline x86-64 has
 * no 32-bit vector multiply (pmulld came with SSE4.1), and the exactly-once commit runs
 * a kernel plus a copy per element, so the core's speed shows: measured on the 2-core
 * EPYC, an int32 square through the scratch went from 30-32 to 38 GB/s on one core.
 * GCC only (clang builds, such as the fuzzers', get the baseline).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define MPROC__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MPROC__CLONES
#endif

/* Absolute value in the work type: signed elements below zero are negated modulo 2^bits;
 * unsigned elements are their own absolute value. */
#define MPROC__ABS_SIGNED(T, W, x) ((x) < (T)0 ? (W)0 - (W)(x) : (W)(x))
#define MPROC__ABS_UNSIGNED(T, W, x) ((W)(x))

/* How a kernel reads its context: unary ops have none, add and mul a constant k. */
#define MPROC__NO_K(T, W) (void)ctx
#define MPROC__LOAD_K(T, W) const W k = (W) * (const T *)ctx

/*
 * One op on one dtype, from the expression EXPR of the element x (type T) and k: the
 * kernel OP_NAME, and its saving twin OP_NAME_saving for the exactly-once commit of
 * in-place chunks (see MPROC__SAVING in pool_internal.h). The twin transforms data in
 * place block by block, each block first copied to `save` and counted in *saved, so
 * that a worker killed at any instruction has the originals of every element it may
 * have changed in the first *saved elements of `save`. Stores are not reordered across
 * the signal fence by the compiler, and a process stops at an instruction boundary with
 * the stores before it retired in program order: the caller looks only after the worker
 * is dead. One pass over the array, like a plain in-place kernel; the two-pass commit
 * through the scratch (compute into it, copy back) cost 7-10% at the memory limit.
 */
#define MPROC__KERNEL(OP, NAME, T, W, LOADK, EXPR)                                          \
    MPROC__CLONES static int OP##_##NAME(const void *s_, void *d_, size_t n, const void *ctx) \
    {                                                                                      \
        LOADK(T, W);                                                                       \
        const T *s = s_;                                                                   \
        T *d = d_;                                                                         \
        for (size_t i = 0; i < n; i++) {                                                   \
            T x = s[i];                                                                    \
            d[i] = (EXPR);                                                                 \
        }                                                                                  \
        return 0;                                                                          \
    }                                                                                      \
    MPROC__CLONES static int OP##_##NAME##_saving(void *d_, void *save_, size_t n,          \
                                                  const void *ctx, _Atomic uint64_t *saved) \
    {                                                                                      \
        LOADK(T, W);                                                                       \
        T *d = d_;                                                                         \
        T *restrict save = save_;                                                          \
        const size_t block = MPROC__SAVE_BLOCK_BYTES / sizeof(T);                          \
        for (size_t j = 0; j < n; j += block) {                                            \
            size_t m = n - j < block ? n - j : block;                                      \
            for (size_t i = 0; i < m; i++)                                                 \
                save[j + i] = d[j + i];                                                    \
            atomic_store_explicit(saved, j + m, memory_order_relaxed);                     \
            atomic_signal_fence(memory_order_seq_cst);                                     \
            for (size_t i = 0; i < m; i++) {                                               \
                T x = save[j + i];                                                         \
                d[j + i] = (EXPR);                                                         \
            }                                                                              \
        }                                                                                  \
        return 0;                                                                          \
    }

/* T: element type, W: unsigned work type (at least unsigned int), ABS: one of the two
 * above, NAME: suffix. */
#define MPROC__INT_KERNELS(T, W, ABS, NAME)                                                \
    MPROC__KERNEL(square, NAME, T, W, MPROC__NO_K, (T)((W)x * (W)x))                       \
    MPROC__KERNEL(cube, NAME, T, W, MPROC__NO_K, (T)((W)x * (W)x * (W)x))                  \
    MPROC__KERNEL(negate, NAME, T, W, MPROC__NO_K, (T)((W)0 - (W)x))                       \
    MPROC__KERNEL(abs, NAME, T, W, MPROC__NO_K, (T)ABS(T, W, x))                           \
    MPROC__KERNEL(add, NAME, T, W, MPROC__LOAD_K, (T)((W)x + k))                           \
    MPROC__KERNEL(mul, NAME, T, W, MPROC__LOAD_K, (T)((W)x * k))

#define MPROC__FLOAT_KERNELS(T, ABS, NAME)                                                 \
    MPROC__KERNEL(square, NAME, T, T, MPROC__NO_K, x * x)                                  \
    MPROC__KERNEL(cube, NAME, T, T, MPROC__NO_K, x * x * x)                                \
    MPROC__KERNEL(negate, NAME, T, T, MPROC__NO_K, -x)                                     \
    MPROC__KERNEL(abs, NAME, T, T, MPROC__NO_K, ABS(x))                                    \
    MPROC__KERNEL(add, NAME, T, T, MPROC__LOAD_K, x + k)                                   \
    MPROC__KERNEL(mul, NAME, T, T, MPROC__LOAD_K, x * k)

MPROC__INT_KERNELS(int8_t, unsigned, MPROC__ABS_SIGNED, i8)
MPROC__INT_KERNELS(uint8_t, unsigned, MPROC__ABS_UNSIGNED, u8)
MPROC__INT_KERNELS(int16_t, unsigned, MPROC__ABS_SIGNED, i16)
MPROC__INT_KERNELS(uint16_t, unsigned, MPROC__ABS_UNSIGNED, u16)
MPROC__INT_KERNELS(int32_t, uint32_t, MPROC__ABS_SIGNED, i32)
MPROC__INT_KERNELS(uint32_t, uint32_t, MPROC__ABS_UNSIGNED, u32)
MPROC__INT_KERNELS(int64_t, uint64_t, MPROC__ABS_SIGNED, i64)
MPROC__INT_KERNELS(uint64_t, uint64_t, MPROC__ABS_UNSIGNED, u64)
MPROC__FLOAT_KERNELS(float, fabsf, f32)
MPROC__FLOAT_KERNELS(double, fabs, f64)

#define MPROC__ROW(NAME) {square_##NAME, cube_##NAME, negate_##NAME, abs_##NAME, add_##NAME, mul_##NAME}
#define MPROC__SAVING_ROW(NAME)                                                            \
    {square_##NAME##_saving, cube_##NAME##_saving, negate_##NAME##_saving,                 \
     abs_##NAME##_saving,    add_##NAME##_saving,  mul_##NAME##_saving}

/* Indexed [dtype][op - 1]. */
static const mproc_kernel builtin[MPROC_DTYPE_COUNT + 1][6] = {
    [MPROC_INT8] = MPROC__ROW(i8),       [MPROC_UINT8] = MPROC__ROW(u8),
    [MPROC_INT16] = MPROC__ROW(i16),     [MPROC_UINT16] = MPROC__ROW(u16),
    [MPROC_INT32] = MPROC__ROW(i32),     [MPROC_UINT32] = MPROC__ROW(u32),
    [MPROC_INT64] = MPROC__ROW(i64),     [MPROC_UINT64] = MPROC__ROW(u64),
    [MPROC_FLOAT32] = MPROC__ROW(f32),   [MPROC_FLOAT64] = MPROC__ROW(f64),
};

/* The saving twins, in the same places. */
static const mproc__saving_kernel builtin_saving[MPROC_DTYPE_COUNT + 1][6] = {
    [MPROC_INT8] = MPROC__SAVING_ROW(i8),     [MPROC_UINT8] = MPROC__SAVING_ROW(u8),
    [MPROC_INT16] = MPROC__SAVING_ROW(i16),   [MPROC_UINT16] = MPROC__SAVING_ROW(u16),
    [MPROC_INT32] = MPROC__SAVING_ROW(i32),   [MPROC_UINT32] = MPROC__SAVING_ROW(u32),
    [MPROC_INT64] = MPROC__SAVING_ROW(i64),   [MPROC_UINT64] = MPROC__SAVING_ROW(u64),
    [MPROC_FLOAT32] = MPROC__SAVING_ROW(f32), [MPROC_FLOAT64] = MPROC__SAVING_ROW(f64),
};

mproc__saving_kernel mproc__kernel_saving(mproc_kernel kernel, uint32_t dtype)
{
    if (kernel == NULL || !mproc__dtype_valid(dtype))
        return NULL;
    for (int op = 0; op < 6; op++)
        if (builtin[dtype][op] == kernel)
            return builtin_saving[dtype][op];
    return NULL; /* a user kernel: a black box, committed through the scratch */
}

MPROC_API int mproc_kernel_get(mproc_op op, mproc_dtype dtype, mproc_kernel *out)
{
    if (out == NULL || op < MPROC_OP_SQUARE || op > MPROC_OP_MUL)
        return MPROC_EINVAL;
    if (!mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    *out = builtin[dtype][op - 1];
    return 0;
}
