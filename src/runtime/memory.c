/*
 * memory.c - the process's resident memory now and at its peak, from
 * Linux's /proc/self/status (public in bitnet-perf.h).
 */
#include "memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB_PER_MIB 1024.0

/* A "VmRSS:   1234 kB" line of /proc/self/status in MiB, or -1 when the
 * system has no such file (not Linux). */
static double proc_status_mib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1.0;
    char line[256];
    double mib = -1.0;
    const size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            mib = strtod(line + klen + 1, NULL) / KIB_PER_MIB;
            break;
        }
    fclose(f);
    return mib;
}

double bn_resident_mib(void) { return proc_status_mib("VmRSS"); }

double bn_peak_resident_mib(void) { return proc_status_mib("VmHWM"); }
