/* dtype.c - dtype names, sizes, Python typecodes; built-in op names. */
#include "internal.h"

#include <string.h>

struct dtype_desc {
    const char *name;
    const char *short_name;
    char typecode;     /* Python array typecode (the primary one) */
    char typecode_alt; /* l/L alias q/Q on LP64 */
    size_t size;
};

static const struct dtype_desc dtypes[MPROC_DTYPE_COUNT + 1] = {
    [MPROC_INT8] = {"int8", "i8", 'b', 0, 1},
    [MPROC_UINT8] = {"uint8", "u8", 'B', 0, 1},
    [MPROC_INT16] = {"int16", "i16", 'h', 0, 2},
    [MPROC_UINT16] = {"uint16", "u16", 'H', 0, 2},
    [MPROC_INT32] = {"int32", "i32", 'i', 0, 4},
    [MPROC_UINT32] = {"uint32", "u32", 'I', 0, 4},
    [MPROC_INT64] = {"int64", "i64", 'q', 'l', 8},
    [MPROC_UINT64] = {"uint64", "u64", 'Q', 'L', 8},
    [MPROC_FLOAT32] = {"float32", "f32", 'f', 0, 4},
    [MPROC_FLOAT64] = {"float64", "f64", 'd', 0, 8},
};

bool mproc__dtype_valid(uint32_t dtype)
{
    return dtype >= MPROC_INT8 && dtype <= MPROC_FLOAT64;
}

MPROC_API int mproc_dtype_parse(const char *text, mproc_dtype *out)
{
    if (text == NULL || out == NULL)
        return MPROC_EINVAL;
    for (int d = MPROC_INT8; d <= MPROC_FLOAT64; d++) {
        const struct dtype_desc *t = &dtypes[d];
        bool code = text[0] != '\0' && text[1] == '\0' &&
                    (text[0] == t->typecode || (t->typecode_alt && text[0] == t->typecode_alt));
        if (code || strcmp(text, t->name) == 0 || strcmp(text, t->short_name) == 0) {
            *out = (mproc_dtype)d;
            return 0;
        }
    }
    return MPROC_EDTYPE;
}

MPROC_API const char *mproc_dtype_name(mproc_dtype dtype)
{
    return mproc__dtype_valid((uint32_t)dtype) ? dtypes[dtype].name : NULL;
}

MPROC_API size_t mproc_dtype_size(mproc_dtype dtype)
{
    return mproc__dtype_valid((uint32_t)dtype) ? dtypes[dtype].size : 0;
}

static const char *const op_names[] = {
    [MPROC_OP_SQUARE] = "square", [MPROC_OP_CUBE] = "cube", [MPROC_OP_NEGATE] = "negate",
    [MPROC_OP_ABS] = "abs",       [MPROC_OP_ADD] = "add",   [MPROC_OP_MUL] = "mul",
};

MPROC_API int mproc_op_parse(const char *text, mproc_op *out)
{
    if (text == NULL || out == NULL)
        return MPROC_EINVAL;
    for (int op = MPROC_OP_SQUARE; op <= MPROC_OP_MUL; op++) {
        if (strcmp(text, op_names[op]) == 0) {
            *out = (mproc_op)op;
            return 0;
        }
    }
    return MPROC_EINVAL;
}

MPROC_API const char *mproc_op_name(mproc_op op)
{
    return (op >= MPROC_OP_SQUARE && op <= MPROC_OP_MUL) ? op_names[op] : NULL;
}
