/*
 * clock.h - the one clock of the engine and its tools: seconds on a
 * monotonic clock (public in bitnet-perf.h).
 */
#ifndef BN_CLOCK_H
#define BN_CLOCK_H

double bn_seconds(void);

#endif
