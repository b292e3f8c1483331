/*
 * errors.c - the one-line error messages of the engine (errors.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"

int bn_errf(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BN_ERR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}
