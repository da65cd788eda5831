/* error.c - messages and names for every error code (one X-macro table in mproc.h). */
#include "internal.h"

#include <string.h>

MPROC_API const char *mproc_strerror(int err)
{
    if (err == 0)
        return "success";
    switch (err) {
#define MPROC__XX(name, value, msg) \
    case (value): return msg;
        MPROC_ERROR_MAP(MPROC__XX)
#undef MPROC__XX
    default:
        break;
    }
    /* Other -errno values from system calls: glibc's strerror returns static strings
     * for known codes; strerrordesc_np would be better but is glibc 2.32+. */
    if (err < 0 && err > -1000) {
        const char *s = strerror(-err);
        if (s != NULL)
            return s;
    }
    return "unknown error";
}

MPROC_API const char *mproc_error_name(int err)
{
    switch (err) {
#define MPROC__XX(name, value, msg) \
    case (value): return "MPROC_" #name;
        MPROC_ERROR_MAP(MPROC__XX)
#undef MPROC__XX
    default:
        return NULL;
    }
}

MPROC_API const char *mproc_version(void) { return MPROC_VERSION_STRING; }

MPROC_API int mproc_version_number(void) { return MPROC_VERSION_NUMBER; }
