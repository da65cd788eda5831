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

/* T: element type, W: unsigned work type (at least unsigned int), ABS: one of the two
 * above, NAME: suffix. */
#define MPROC__INT_KERNELS(T, W, ABS, NAME)                                                    \
    MPROC__CLONES static int square_##NAME(const void *s_, void *d_, size_t n, const void *ctx)          \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                    \
            W x = (W)s[i];                                                                  \
            d[i] = (T)(x * x);                                                              \
        }                                                                                   \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int cube_##NAME(const void *s_, void *d_, size_t n, const void *ctx)            \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                    \
            W x = (W)s[i];                                                                  \
            d[i] = (T)(x * x * x);                                                          \
        }                                                                                   \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int negate_##NAME(const void *s_, void *d_, size_t n, const void *ctx)          \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = (T)((W)0 - (W)s[i]);                                                     \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int abs_##NAME(const void *s_, void *d_, size_t n, const void *ctx)             \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = (T)ABS(T, W, s[i]);                                                      \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int add_##NAME(const void *s_, void *d_, size_t n, const void *ctx)             \
    {                                                                                       \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        W k = (W) * (const T *)ctx;                                                         \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = (T)((W)s[i] + k);                                                        \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int mul_##NAME(const void *s_, void *d_, size_t n, const void *ctx)             \
    {                                                                                       \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        W k = (W) * (const T *)ctx;                                                         \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = (T)((W)s[i] * k);                                                        \
        return 0;                                                                           \
    }

#define MPROC__FLOAT_KERNELS(T, ABS, NAME)                                                  \
    MPROC__CLONES static int square_##NAME(const void *s_, void *d_, size_t n, const void *ctx)          \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = s[i] * s[i];                                                             \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int cube_##NAME(const void *s_, void *d_, size_t n, const void *ctx)            \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = s[i] * s[i] * s[i];                                                      \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int negate_##NAME(const void *s_, void *d_, size_t n, const void *ctx)          \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = -s[i];                                                                   \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int abs_##NAME(const void *s_, void *d_, size_t n, const void *ctx)             \
    {                                                                                       \
        (void)ctx;                                                                          \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = ABS(s[i]);                                                               \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int add_##NAME(const void *s_, void *d_, size_t n, const void *ctx)             \
    {                                                                                       \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        T k = *(const T *)ctx;                                                              \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = s[i] + k;                                                                \
        return 0;                                                                           \
    }                                                                                       \
    MPROC__CLONES static int mul_##NAME(const void *s_, void *d_, size_t n, const void *ctx)             \
    {                                                                                       \
        const T *s = s_;                                                                    \
        T *d = d_;                                                                          \
        T k = *(const T *)ctx;                                                              \
        for (size_t i = 0; i < n; i++)                                                      \
            d[i] = s[i] * k;                                                                \
        return 0;                                                                           \
    }

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

/* Indexed [dtype][op - 1]. */
static const mproc_kernel builtin[MPROC_DTYPE_COUNT + 1][6] = {
    [MPROC_INT8] = MPROC__ROW(i8),       [MPROC_UINT8] = MPROC__ROW(u8),
    [MPROC_INT16] = MPROC__ROW(i16),     [MPROC_UINT16] = MPROC__ROW(u16),
    [MPROC_INT32] = MPROC__ROW(i32),     [MPROC_UINT32] = MPROC__ROW(u32),
    [MPROC_INT64] = MPROC__ROW(i64),     [MPROC_UINT64] = MPROC__ROW(u64),
    [MPROC_FLOAT32] = MPROC__ROW(f32),   [MPROC_FLOAT64] = MPROC__ROW(f64),
};

MPROC_API int mproc_kernel_get(mproc_op op, mproc_dtype dtype, mproc_kernel *out)
{
    if (out == NULL || op < MPROC_OP_SQUARE || op > MPROC_OP_MUL)
        return MPROC_EINVAL;
    if (!mproc__dtype_valid((uint32_t)dtype))
        return MPROC_EDTYPE;
    *out = builtin[dtype][op - 1];
    return 0;
}
