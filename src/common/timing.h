/*
 * timing.h - the clock and rates behind the stats lines, --json timings and
 * the server's "timings", and the seed of a run without --seed.
 */
#ifndef BN_COMMON_TIMING_H
#define BN_COMMON_TIMING_H

#include <stdint.h>

double now_ms(void);
/* n per second over ms milliseconds (0 when ms is not positive). */
double per_second(double n, double ms);
/* A seed for runs without --seed. */
uint64_t clock_seed(void);

#endif
