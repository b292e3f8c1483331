/*
 * memory.h - the process's resident memory in MiB (platform_posix.c,
 * platform_win32.c); -1 where
 * the system does not report it.
 */
#ifndef BN_MEMORY_H
#define BN_MEMORY_H

double bn_resident_mib(void);
double bn_peak_resident_mib(void);

#endif
