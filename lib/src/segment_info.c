/* segment_info.c - placeholder; filled in by its issue. */
#include "internal.h"
