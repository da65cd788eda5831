/* process.c - placeholder; filled in by its issue. */
#include "internal.h"
