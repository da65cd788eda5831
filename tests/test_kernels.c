/*
 * test_kernels.c - the built-in kernels, called directly (serially): every op for every
 * dtype against a serial reference computed here (integers in unsigned arithmetic, i.e.
 * modulo 2^bits; floats in the dtype's precision), known answers at the dtype limits,
 * IEEE special values, in place and src -> dst, unaligned ranges, no writes outside
 * [0, n), and the errors of mproc_kernel_get.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PAD 16 /* guard elements on each side of a range */
#define GUARD 0xCD

static mproc_kernel get_kernel(mproc_op op, mproc_dtype dtype)
{
    mproc_kernel k = NULL;
    int rc = mproc_kernel_get(op, dtype, &k);
    ck_assert_msg(rc == 0, "mproc_kernel_get(%d, %d) = %s", (int)op, (int)dtype, tu_errname(rc));
    ck_assert_msg(k != NULL, "mproc_kernel_get gave a NULL kernel");
    return k;
}

static void check_guards(const uint8_t *buf, size_t esize, size_t lead, size_t n,
                         const char *what)
{
    tu_assert_each(i, lead * esize, buf[i] == GUARD,
                   "%s: kernel wrote before the range (byte %zu before)", what, lead * esize - i);
    const uint8_t *after = buf + (lead + n) * esize;
    tu_assert_each(i, PAD * esize, after[i] == GUARD,
                   "%s: kernel wrote past the range (byte %zu after)", what, i);
}

/* Runs op over vals (n elements) out of place and in place, at element offset `shift`
 * from a 64-byte boundary, and checks results against the reference and the guards. */
static void run_case(mproc_op op, mproc_dtype dtype, const void *vals, size_t n,
                     const void *scalar, size_t shift)
{
    const tu_dtype_info *t = tu_dtype(dtype);
    mproc_kernel k = get_kernel(op, dtype);
    size_t total = (PAD + shift + n + PAD) * t->size;
    uint8_t *src = aligned_alloc(64, (total + 63) / 64 * 64);
    uint8_t *dst = aligned_alloc(64, (total + 63) / 64 * 64);
    ck_assert_ptr_nonnull(src);
    ck_assert_ptr_nonnull(dst);
    size_t lead = PAD + shift;
    char what[96];
    snprintf(what, sizeof what, "%s %s n=%zu shift=%zu", mproc_op_name(op), t->name, n, shift);

    /* src -> dst */
    memset(src, GUARD, total);
    memset(dst, GUARD, total);
    memcpy(src + lead * t->size, vals, n * t->size);
    int rc = k(src + lead * t->size, dst + lead * t->size, n, scalar);
    ck_assert_msg(rc == 0, "%s: kernel returned %d", what, rc);
    ck_assert_msg(memcmp(src + lead * t->size, vals, n * t->size) == 0,
                  "%s: src changed by an out-of-place kernel", what);
    check_guards(src, t->size, lead, n, what);
    check_guards(dst, t->size, lead, n, what);
    tu_assert_op_result(op, dtype, vals, dst + lead * t->size, n, scalar);

    /* in place */
    memset(dst, GUARD, total);
    memcpy(dst + lead * t->size, vals, n * t->size);
    rc = k(dst + lead * t->size, dst + lead * t->size, n, scalar);
    ck_assert_msg(rc == 0, "%s (in place): kernel returned %d", what, rc);
    check_guards(dst, t->size, lead, n, what);
    tu_assert_op_result(op, dtype, vals, dst + lead * t->size, n, scalar);

    free(src);
    free(dst);
}

/* Scalars for ADD / MUL: the specials of the dtype plus a few random ones. */
static void scalars_for(mproc_dtype dtype, uint8_t *out, size_t count)
{
    const tu_dtype_info *t = tu_dtype(dtype);
    size_t nspecial = tu_special_count(dtype);
    uint8_t *spec = malloc(nspecial * t->size);
    tu_fill_special(dtype, spec, nspecial);
    size_t i = 0;
    for (; i < count && i < nspecial; i++)
        memcpy(out + i * t->size, spec + i * t->size, t->size);
    if (i < count)
        tu_fill_random(dtype, out + i * t->size, count - i, 1234);
    free(spec);
}

START_TEST(test_every_op_every_dtype)
{
    const mproc_op op = tu_ops[_i / MPROC_DTYPE_COUNT];
    const mproc_dtype dtype = tu_dtypes[_i % MPROC_DTYPE_COUNT].dtype;
    const tu_dtype_info *t = tu_dtype(dtype);
    const size_t nspecial = tu_special_count(dtype), nrand = 3001;
    const size_t n = nspecial + nrand;
    uint8_t *vals = malloc(n * t->size);
    tu_fill_special(dtype, vals, nspecial);
    tu_fill_random(dtype, vals + nspecial * t->size, nrand, 42 + (uint64_t)_i);

    const bool takes_scalar = op == MPROC_OP_ADD || op == MPROC_OP_MUL;
    const size_t nscalars = takes_scalar ? nspecial + 5 : 1;
    uint8_t *scalars = malloc(nscalars * t->size);
    scalars_for(dtype, scalars, nscalars);

    for (size_t s = 0; s < nscalars; s++) {
        const void *scalar = takes_scalar ? scalars + s * t->size : NULL;
        run_case(op, dtype, vals, n, scalar, 0);
        /* odd lengths and element-aligned (not vector-aligned) starts */
        const size_t lens[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65, 100};
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
            for (size_t shift = 0; shift < 4; shift++)
                run_case(op, dtype, vals + shift * 5 * t->size, lens[l], scalar, shift);
    }
    free(vals);
    free(scalars);
}
END_TEST

/* ---- known answers -------------------------------------------------------------------------- */

static void kat_run(mproc_op op, mproc_dtype dtype, const void *x, const void *s, void *r)
{
    mproc_kernel k = get_kernel(op, dtype);
    ck_assert_int_eq(k(x, r, 1, s), 0);
}

#define KAT_INT(T, DT, OP, X, S, WANT)                                                         \
    do {                                                                                       \
        T x_ = (T)(X), s_ = (T)(S), r_ = 0;                                                    \
        kat_run(OP, DT, &x_, &s_, &r_);                                                        \
        ck_assert_msg(r_ == (T)(WANT), "%s %s(%s): got %lld, expected %lld", #T, #OP, #X,      \
                      (long long)r_, (long long)(T)(WANT));                                    \
    } while (0)

#define KAT_UINT(T, DT, OP, X, S, WANT)                                                        \
    do {                                                                                       \
        T x_ = (T)(X), s_ = (T)(S), r_ = 0;                                                    \
        kat_run(OP, DT, &x_, &s_, &r_);                                                        \
        ck_assert_msg(r_ == (T)(WANT), "%s %s(%s): got %llu, expected %llu", #T, #OP, #X,      \
                      (unsigned long long)r_, (unsigned long long)(T)(WANT));                  \
    } while (0)

#define SQ MPROC_OP_SQUARE
#define CU MPROC_OP_CUBE
#define NEG MPROC_OP_NEGATE
#define ABS MPROC_OP_ABS
#define ADD MPROC_OP_ADD
#define MUL MPROC_OP_MUL

START_TEST(test_known_answers_int)
{
    /* int8 */
    KAT_INT(int8_t, MPROC_INT8, SQ, INT8_MAX, 0, 1); /* 127^2 = 16129 = 0x3F01 */
    KAT_INT(int8_t, MPROC_INT8, SQ, INT8_MIN, 0, 0);
    KAT_INT(int8_t, MPROC_INT8, SQ, 11, 0, 121);
    KAT_INT(int8_t, MPROC_INT8, SQ, 12, 0, -112);
    KAT_INT(int8_t, MPROC_INT8, SQ, -12, 0, -112);
    KAT_INT(int8_t, MPROC_INT8, SQ, 16, 0, 0);
    KAT_INT(int8_t, MPROC_INT8, CU, INT8_MIN, 0, 0);
    KAT_INT(int8_t, MPROC_INT8, CU, 5, 0, 125);
    KAT_INT(int8_t, MPROC_INT8, CU, 6, 0, -40);
    KAT_INT(int8_t, MPROC_INT8, CU, -1, 0, -1);
    KAT_INT(int8_t, MPROC_INT8, NEG, INT8_MIN, 0, INT8_MIN);
    KAT_INT(int8_t, MPROC_INT8, NEG, INT8_MAX, 0, -INT8_MAX);
    KAT_INT(int8_t, MPROC_INT8, ABS, INT8_MIN, 0, INT8_MIN);
    KAT_INT(int8_t, MPROC_INT8, ABS, -5, 0, 5);
    KAT_INT(int8_t, MPROC_INT8, ABS, 5, 0, 5);
    KAT_INT(int8_t, MPROC_INT8, ADD, INT8_MAX, 1, INT8_MIN);
    KAT_INT(int8_t, MPROC_INT8, ADD, INT8_MIN, -1, INT8_MAX);
    KAT_INT(int8_t, MPROC_INT8, MUL, 64, 2, INT8_MIN);
    KAT_INT(int8_t, MPROC_INT8, MUL, INT8_MIN, -1, INT8_MIN);
    /* uint8 */
    KAT_UINT(uint8_t, MPROC_UINT8, SQ, UINT8_MAX, 0, 1);
    KAT_UINT(uint8_t, MPROC_UINT8, SQ, 16, 0, 0);
    KAT_UINT(uint8_t, MPROC_UINT8, SQ, 15, 0, 225);
    KAT_UINT(uint8_t, MPROC_UINT8, CU, UINT8_MAX, 0, UINT8_MAX);
    KAT_UINT(uint8_t, MPROC_UINT8, NEG, 1, 0, UINT8_MAX);
    KAT_UINT(uint8_t, MPROC_UINT8, NEG, 0, 0, 0);
    KAT_UINT(uint8_t, MPROC_UINT8, ABS, 200, 0, 200);
    KAT_UINT(uint8_t, MPROC_UINT8, ADD, UINT8_MAX, 1, 0);
    KAT_UINT(uint8_t, MPROC_UINT8, MUL, 128, 2, 0);
    /* int16 */
    KAT_INT(int16_t, MPROC_INT16, SQ, 181, 0, 32761);
    KAT_INT(int16_t, MPROC_INT16, SQ, 182, 0, -32412);
    KAT_INT(int16_t, MPROC_INT16, SQ, INT16_MIN, 0, 0);
    KAT_INT(int16_t, MPROC_INT16, SQ, INT16_MAX, 0, 1);
    KAT_INT(int16_t, MPROC_INT16, CU, 32, 0, INT16_MIN); /* 32768 */
    KAT_INT(int16_t, MPROC_INT16, NEG, INT16_MIN, 0, INT16_MIN);
    KAT_INT(int16_t, MPROC_INT16, ABS, INT16_MIN, 0, INT16_MIN);
    KAT_INT(int16_t, MPROC_INT16, ADD, INT16_MAX, 1, INT16_MIN);
    KAT_INT(int16_t, MPROC_INT16, MUL, INT16_MIN, -1, INT16_MIN);
    /* uint16 */
    KAT_UINT(uint16_t, MPROC_UINT16, SQ, UINT16_MAX, 0, 1);
    KAT_UINT(uint16_t, MPROC_UINT16, SQ, 256, 0, 0);
    KAT_UINT(uint16_t, MPROC_UINT16, SQ, 255, 0, 65025);
    KAT_UINT(uint16_t, MPROC_UINT16, CU, UINT16_MAX, 0, UINT16_MAX);
    KAT_UINT(uint16_t, MPROC_UINT16, NEG, 1, 0, UINT16_MAX);
    KAT_UINT(uint16_t, MPROC_UINT16, MUL, UINT16_MAX, UINT16_MAX, 1);
    /* int32 */
    KAT_INT(int32_t, MPROC_INT32, SQ, INT32_MIN, 0, 0);
    KAT_INT(int32_t, MPROC_INT32, SQ, INT32_MAX, 0, 1);
    KAT_INT(int32_t, MPROC_INT32, SQ, 46340, 0, 2147395600);
    KAT_INT(int32_t, MPROC_INT32, SQ, 46341, 0, -2147479015);
    KAT_INT(int32_t, MPROC_INT32, SQ, -46341, 0, -2147479015);
    KAT_INT(int32_t, MPROC_INT32, SQ, 65536, 0, 0);
    KAT_INT(int32_t, MPROC_INT32, CU, 1290, 0, 2146689000);
    KAT_INT(int32_t, MPROC_INT32, CU, 1291, 0, -2143282125);
    KAT_INT(int32_t, MPROC_INT32, CU, INT32_MIN, 0, 0);
    KAT_INT(int32_t, MPROC_INT32, CU, -1291, 0, 2143282125);
    KAT_INT(int32_t, MPROC_INT32, NEG, INT32_MIN, 0, INT32_MIN);
    KAT_INT(int32_t, MPROC_INT32, ABS, INT32_MIN, 0, INT32_MIN);
    KAT_INT(int32_t, MPROC_INT32, ABS, -INT32_MAX, 0, INT32_MAX);
    KAT_INT(int32_t, MPROC_INT32, ADD, INT32_MAX, 1, INT32_MIN);
    KAT_INT(int32_t, MPROC_INT32, ADD, INT32_MIN, INT32_MIN, 0);
    KAT_INT(int32_t, MPROC_INT32, MUL, INT32_MIN, -1, INT32_MIN);
    KAT_INT(int32_t, MPROC_INT32, MUL, 65536, 65536, 0);
    /* uint32 */
    KAT_UINT(uint32_t, MPROC_UINT32, SQ, UINT32_MAX, 0, 1);
    KAT_UINT(uint32_t, MPROC_UINT32, SQ, 65536, 0, 0);
    KAT_UINT(uint32_t, MPROC_UINT32, SQ, 65535, 0, 4294836225u);
    KAT_UINT(uint32_t, MPROC_UINT32, CU, UINT32_MAX, 0, UINT32_MAX);
    KAT_UINT(uint32_t, MPROC_UINT32, CU, 1626, 0, 1626ull * 1626 * 1626 - 4294967296ull);
    KAT_UINT(uint32_t, MPROC_UINT32, NEG, 1, 0, UINT32_MAX);
    KAT_UINT(uint32_t, MPROC_UINT32, ABS, UINT32_MAX, 0, UINT32_MAX);
    KAT_UINT(uint32_t, MPROC_UINT32, ADD, UINT32_MAX, 2, 1);
    /* int64 */
    KAT_INT(int64_t, MPROC_INT64, SQ, INT64_MIN, 0, 0);
    KAT_INT(int64_t, MPROC_INT64, SQ, INT64_MAX, 0, 1);
    KAT_INT(int64_t, MPROC_INT64, SQ, 3037000499ll, 0, 9223372030926249001ll);
    KAT_INT(int64_t, MPROC_INT64, SQ, 3037000500ll, 0, -9223372036709301616ll);
    KAT_INT(int64_t, MPROC_INT64, SQ, 4294967296ll, 0, 0);
    KAT_INT(int64_t, MPROC_INT64, CU, 2097152ll, 0, INT64_MIN); /* 2^63 */
    KAT_INT(int64_t, MPROC_INT64, CU, INT64_MIN, 0, 0);
    KAT_INT(int64_t, MPROC_INT64, NEG, INT64_MIN, 0, INT64_MIN);
    KAT_INT(int64_t, MPROC_INT64, ABS, INT64_MIN, 0, INT64_MIN);
    KAT_INT(int64_t, MPROC_INT64, ABS, -INT64_MAX, 0, INT64_MAX);
    KAT_INT(int64_t, MPROC_INT64, ADD, INT64_MAX, 1, INT64_MIN);
    KAT_INT(int64_t, MPROC_INT64, MUL, INT64_MIN, -1, INT64_MIN);
    KAT_INT(int64_t, MPROC_INT64, MUL, INT64_MAX, INT64_MAX, 1);
    /* uint64 */
    KAT_UINT(uint64_t, MPROC_UINT64, SQ, UINT64_MAX, 0, 1);
    KAT_UINT(uint64_t, MPROC_UINT64, SQ, 4294967296ull, 0, 0);
    KAT_UINT(uint64_t, MPROC_UINT64, CU, UINT64_MAX, 0, UINT64_MAX);
    KAT_UINT(uint64_t, MPROC_UINT64, NEG, 1, 0, UINT64_MAX);
    KAT_UINT(uint64_t, MPROC_UINT64, ABS, UINT64_MAX, 0, UINT64_MAX);
    KAT_UINT(uint64_t, MPROC_UINT64, ADD, UINT64_MAX, UINT64_MAX, UINT64_MAX - 1);
    KAT_UINT(uint64_t, MPROC_UINT64, MUL, 1ull << 63, 2, 0);
}
END_TEST

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* Expected value given as a double; NAN means "any NaN"; compared bitwise otherwise. */
#define KAT_F32(OP, X, S, WANT)                                                                \
    do {                                                                                       \
        float x_ = (float)(X), s_ = (float)(S), r_ = 1.0f, w_ = (float)(WANT);                 \
        kat_run(OP, MPROC_FLOAT32, &x_, &s_, &r_);                                             \
        if (isnan(w_))                                                                         \
            ck_assert_msg(isnan(r_), "float32 %s(%s, %s): got %g, expected NaN", #OP, #X, #S,  \
                          (double)r_);                                                         \
        else                                                                                   \
            ck_assert_msg(f32_bits(r_) == f32_bits(w_),                                        \
                          "float32 %s(%s, %s): got %g (0x%08x), expected %g (0x%08x)", #OP,    \
                          #X, #S, (double)r_, f32_bits(r_), (double)w_, f32_bits(w_));         \
    } while (0)

#define KAT_F64(OP, X, S, WANT)                                                                \
    do {                                                                                       \
        double x_ = (X), s_ = (S), r_ = 1.0, w_ = (WANT);                                      \
        kat_run(OP, MPROC_FLOAT64, &x_, &s_, &r_);                                             \
        if (isnan(w_))                                                                         \
            ck_assert_msg(isnan(r_), "float64 %s(%s, %s): got %g, expected NaN", #OP, #X, #S,  \
                          r_);                                                                 \
        else                                                                                   \
            ck_assert_msg(f64_bits(r_) == f64_bits(w_),                                        \
                          "float64 %s(%s, %s): got %g (0x%016" PRIx64 "), expected %g", #OP,   \
                          #X, #S, r_, f64_bits(r_), w_);                                       \
    } while (0)

START_TEST(test_known_answers_float)
{
    KAT_F32(SQ, 3.0f, 0, 9.0f);
    KAT_F32(SQ, -1.5f, 0, 2.25f);
    KAT_F32(SQ, FLT_MAX, 0, INFINITY);
    KAT_F32(SQ, -INFINITY, 0, INFINITY);
    KAT_F32(SQ, -0.0f, 0, 0.0f); /* +0 */
    KAT_F32(SQ, 1e-30f, 0, 0.0f);
    KAT_F32(SQ, NAN, 0, NAN);
    KAT_F32(CU, -2.0f, 0, -8.0f);
    KAT_F32(CU, -INFINITY, 0, -INFINITY);
    KAT_F32(CU, -1e-20f, 0, -0.0f);
    KAT_F32(CU, -0.0f, 0, -0.0f);
    KAT_F32(CU, 1e13f, 0, INFINITY);
    KAT_F32(NEG, 0.0f, 0, -0.0f);
    KAT_F32(NEG, -0.0f, 0, 0.0f);
    KAT_F32(NEG, INFINITY, 0, -INFINITY);
    KAT_F32(NEG, -FLT_MAX, 0, FLT_MAX);
    KAT_F32(NEG, NAN, 0, NAN);
    KAT_F32(ABS, -0.0f, 0, 0.0f);
    KAT_F32(ABS, -INFINITY, 0, INFINITY);
    KAT_F32(ABS, -1.401298464324817e-45f, 0, 1.401298464324817e-45f);
    KAT_F32(ABS, -NAN, 0, NAN);
    KAT_F32(ABS, -3.5f, 0, 3.5f);
    KAT_F32(ADD, 1.0f, INFINITY, INFINITY);
    KAT_F32(ADD, INFINITY, -INFINITY, NAN);
    KAT_F32(ADD, -0.0f, -0.0f, -0.0f);
    KAT_F32(ADD, -0.0f, 0.0f, 0.0f);
    KAT_F32(ADD, FLT_MAX, FLT_MAX, INFINITY);
    KAT_F32(ADD, 1.0f, 1e-8f, 1.0f);
    KAT_F32(MUL, 0.0f, INFINITY, NAN);
    KAT_F32(MUL, -0.0f, 5.0f, -0.0f);
    KAT_F32(MUL, 3.0f, -0.5f, -1.5f);
    KAT_F32(MUL, FLT_MAX, 2.0f, INFINITY);

    KAT_F64(SQ, 3.0, 0, 9.0);
    KAT_F64(SQ, DBL_MAX, 0, INFINITY);
    KAT_F64(SQ, -0.0, 0, 0.0);
    KAT_F64(SQ, 1e-200, 0, 0.0);
    KAT_F64(SQ, NAN, 0, NAN);
    KAT_F64(SQ, 1e-160, 0, 1e-160 * 1e-160); /* denormal result */
    KAT_F64(CU, -2.0, 0, -8.0);
    KAT_F64(CU, -INFINITY, 0, -INFINITY);
    KAT_F64(CU, 1e103, 0, INFINITY);
    KAT_F64(CU, -0.0, 0, -0.0);
    KAT_F64(NEG, 0.0, 0, -0.0);
    KAT_F64(NEG, -0.0, 0, 0.0);
    KAT_F64(NEG, -INFINITY, 0, INFINITY);
    KAT_F64(ABS, -0.0, 0, 0.0);
    KAT_F64(ABS, -INFINITY, 0, INFINITY);
    KAT_F64(ABS, -4.9406564584124654e-324, 0, 4.9406564584124654e-324);
    KAT_F64(ABS, -NAN, 0, NAN);
    KAT_F64(ADD, INFINITY, -INFINITY, NAN);
    KAT_F64(ADD, -0.0, -0.0, -0.0);
    KAT_F64(ADD, -0.0, 0.0, 0.0);
    KAT_F64(ADD, 1.0, 1e-17, 1.0);
    KAT_F64(ADD, 0.1, 0.2, 0.1 + 0.2);
    KAT_F64(MUL, 0.0, -INFINITY, NAN);
    KAT_F64(MUL, -0.0, 5.0, -0.0);
    KAT_F64(MUL, DBL_MAX, -2.0, -INFINITY);

    /* abs clears the sign of a NaN, negate flips it (IEEE 754 sign-bit operations) */
    float nf = -NAN, rf = 0;
    kat_run(ABS, MPROC_FLOAT32, &nf, NULL, &rf);
    ck_assert_msg(isnan(rf) && !signbit(rf), "float32 abs(-NaN) kept the sign");
    double nd = NAN, rd = 0;
    kat_run(NEG, MPROC_FLOAT64, &nd, NULL, &rd);
    ck_assert_msg(isnan(rd) && signbit(rd), "float64 negate(NaN) did not flip the sign");
}
END_TEST

/* The seed program: [2..8] squared. */
START_TEST(test_seed_square)
{
    int32_t v[7] = {2, 3, 4, 5, 6, 7, 8};
    const int32_t want[7] = {4, 9, 16, 25, 36, 49, 64};
    mproc_kernel k = get_kernel(MPROC_OP_SQUARE, MPROC_INT32);
    ck_assert_int_eq(k(v, v, 7, NULL), 0);
    ck_assert_mem_eq(v, want, sizeof want);
}
END_TEST

/* ---- mproc_kernel_get ------------------------------------------------------------------------ */

START_TEST(test_kernel_get_all)
{
    for (int o = 0; o < TU_OP_COUNT; o++)
        for (int d = 0; d < MPROC_DTYPE_COUNT; d++) {
            mproc_kernel k = NULL;
            int rc = mproc_kernel_get(tu_ops[o], tu_dtypes[d].dtype, &k);
            ck_assert_msg(rc == 0 && k != NULL, "no kernel for %s on %s: %s",
                          mproc_op_name(tu_ops[o]), tu_dtypes[d].name, tu_errname(rc));
            /* the same call gives the same kernel */
            mproc_kernel k2 = NULL;
            tu_assert_rc(mproc_kernel_get(tu_ops[o], tu_dtypes[d].dtype, &k2), 0);
            ck_assert(k == k2);
        }
}
END_TEST

START_TEST(test_kernel_get_errors)
{
    mproc_kernel k = NULL;
    tu_assert_rc(mproc_kernel_get(MPROC_OP_SQUARE, MPROC_INT32, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_get((mproc_op)0, MPROC_INT32, &k), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_get((mproc_op)7, MPROC_INT32, &k), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_get((mproc_op)-1, MPROC_INT32, &k), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_get((mproc_op)1000, MPROC_FLOAT64, &k), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_get(MPROC_OP_SQUARE, MPROC_DTYPE_ANY, &k), MPROC_EDTYPE);
    tu_assert_rc(mproc_kernel_get(MPROC_OP_SQUARE, (mproc_dtype)11, &k), MPROC_EDTYPE);
    tu_assert_rc(mproc_kernel_get(MPROC_OP_ADD, (mproc_dtype)-1, &k), MPROC_EDTYPE);
    tu_assert_rc(mproc_kernel_get(MPROC_OP_MUL, (mproc_dtype)500, &k), MPROC_EDTYPE);
}
END_TEST

/* ---- the test's own reference, checked against the known answers ------------------------------ */

START_TEST(test_reference_sanity)
{
    int32_t x = INT32_MIN, r = 1;
    tu_ref_apply(MPROC_OP_SQUARE, MPROC_INT32, &x, &r, 1, NULL);
    ck_assert_int_eq(r, 0);
    int8_t y = INT8_MAX, ry = 0;
    tu_ref_apply(MPROC_OP_SQUARE, MPROC_INT8, &y, &ry, 1, NULL);
    ck_assert_int_eq(ry, 1);
    int16_t z = 182, rz = 0;
    tu_ref_apply(MPROC_OP_SQUARE, MPROC_INT16, &z, &rz, 1, NULL);
    ck_assert_int_eq(rz, -32412);
    int64_t w = INT64_MIN, rw = 0;
    tu_ref_apply(MPROC_OP_ABS, MPROC_INT64, &w, &rw, 1, NULL);
    ck_assert(rw == INT64_MIN);
    int64_t v = -7, rv = 0;
    tu_ref_apply(MPROC_OP_ABS, MPROC_INT64, &v, &rv, 1, NULL);
    ck_assert(rv == 7);
    uint32_t u = UINT32_MAX, ru = 0;
    tu_ref_apply(MPROC_OP_CUBE, MPROC_UINT32, &u, &ru, 1, NULL);
    ck_assert_uint_eq(ru, UINT32_MAX);
    int32_t s = 5, a = -3, ra = 0;
    tu_ref_apply(MPROC_OP_ADD, MPROC_INT32, &a, &ra, 1, &s);
    ck_assert_int_eq(ra, 2);
    /* the mismatch finder finds a mismatch */
    int32_t g[3] = {1, 2, 3}, h[3] = {1, 2, 4};
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_SQUARE, MPROC_INT32, g, h, 3), 2);
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_SQUARE, MPROC_INT32, g, g, 3), SIZE_MAX);
    float f1[2] = {NAN, 1.0f}, f2[2] = {NAN, 1.0000001f};
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_SQUARE, MPROC_FLOAT32, f1, f2, 2), 1);
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_CUBE, MPROC_FLOAT32, f1, f2, 2), SIZE_MAX);
    float z1[1] = {0.0f}, z2[1] = {-0.0f};
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_NEGATE, MPROC_FLOAT32, z1, z2, 1), 0);
}
END_TEST

int main(void)
{
    tu_init();
    Suite *s = suite_create("kernels");
    TCase *t = tcase_create("ops");
    tu_tcase_defaults(t, 30);
    tcase_add_loop_test(t, test_every_op_every_dtype, 0, TU_OP_COUNT * MPROC_DTYPE_COUNT);
    suite_add_tcase(s, t);

    t = tcase_create("known");
    tu_tcase_defaults(t, 10);
    tcase_add_test(t, test_reference_sanity);
    tcase_add_test(t, test_known_answers_int);
    tcase_add_test(t, test_known_answers_float);
    tcase_add_test(t, test_seed_square);
    tcase_add_test(t, test_kernel_get_all);
    tcase_add_test(t, test_kernel_get_errors);
    suite_add_tcase(s, t);
    return tu_run(s);
}
