/*
 * timing.c - milliseconds from the engine's monotonic clock, rates, and a
 * seed from the wall clock.
 */
#include <time.h>

#include "bitnet-perf.h"
#include "timing.h"

double now_ms(void) { return bn_seconds() * 1e3; }

double per_second(double n, double ms) { return ms > 0 ? n * 1e3 / ms : 0.0; }

uint64_t clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
}
