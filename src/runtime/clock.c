/*
 * clock.c - seconds on a monotonic clock, for timings (never wall time).
 */
#include "clock.h"

#include <time.h>

double bn_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
