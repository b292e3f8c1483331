/*
 * platform_posix.c - platform.h, memory.h and bn_available_cores on POSIX
 * systems (Linux first): mmap, madvise, mlock, /proc/self/status and the
 * scheduler's affinity mask. The reference the Windows port follows.
 */
#ifndef _WIN32

#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"
#include "threadpool.h"

#define KIB_PER_MIB 1024.0
#define BYTES_PER_MIB (1024.0 * 1024.0)

void *bn_aligned_alloc(size_t align, size_t bytes) { return aligned_alloc(align, bytes); }

void bn_aligned_free(void *p) { free(p); }

void *bn_pages_map(size_t bytes, int huge)
{
    void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    if (huge) madvise(map, bytes, MADV_HUGEPAGE); /* advice: 4 KB pages work too */
#else
    (void)huge;
#endif
    return map;
}

void bn_pages_unmap(void *p, size_t bytes) { munmap(p, bytes); }

/* Says what a file that is not a regular one is; 0 for a regular file. */
static int not_regular(const struct stat *st, char *err, size_t errlen)
{
    const mode_t m = st->st_mode;
    if (S_ISREG(m)) return 0;
    snprintf(err, errlen, "%s",
             S_ISDIR(m)    ? "is a directory, not a regular file"
             : S_ISFIFO(m) ? "is a FIFO, not a regular file"
             : S_ISSOCK(m) ? "is a socket, not a regular file"
             : S_ISCHR(m)  ? "is a character device, not a regular file"
             : S_ISBLK(m)  ? "is a block device, not a regular file"
                           : "is not a regular file");
    return 1;
}

int bn_file_open(bn_file *f, const char *path, char *err, size_t errlen)
{
    /* A FIFO blocks in open() until a writer comes and a socket does not
     * open at all, so the kind of file is checked first; O_NONBLOCK keeps
     * one swapped in between from blocking, and fstat checks again. */
    struct stat st;
    if (stat(path, &st) == 0 && not_regular(&st, err, errlen)) return -1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    int bad = 1;
    if (fstat(fd, &st) != 0)
        snprintf(err, errlen, "cannot stat: %s", strerror(errno));
    else if (S_ISREG(st.st_mode) && st.st_size == 0)
        snprintf(err, errlen, "file is empty");
    else
        bad = not_regular(&st, err, errlen);
    if (bad) {
        close(fd);
        return -1;
    }
    f->os = fd;
    f->size = (size_t)st.st_size;
    return 0;
}

int bn_file_read(const bn_file *f, void *buf, char *err, size_t errlen)
{
    for (size_t done = 0; done < f->size;) {
        const ssize_t n = pread((int)f->os, (char *)buf + done, f->size - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot read: %s", n < 0 ? strerror(errno) : "file shrank");
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

const void *bn_file_map(const bn_file *f, char *err, size_t errlen)
{
    void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, (int)f->os, 0);
    if (map != MAP_FAILED) return map;
    snprintf(err, errlen, "cannot map: %s", strerror(errno));
    return NULL;
}

void bn_file_close(bn_file *f)
{
    close((int)f->os);
    f->os = -1;
}

void bn_file_unmap(const void *map, size_t size) { munmap((void *)map, size); }

void bn_file_release_pages(const void *p, size_t n)
{
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const uintptr_t size = (uintptr_t)page;
    const uintptr_t lo = ((uintptr_t)p + size - 1) / size * size;
    const uintptr_t hi = ((uintptr_t)p + n) / size * size;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice: failure is harmless */
}

int bn_lock_pages(const void *p, size_t n, char *why, size_t whylen)
{
    if (!n || mlock(p, n) == 0) return 0;
    const int e = errno;
    struct rlimit rl;
    char limit[64] = "";
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(limit, sizeof limit, "; RLIMIT_MEMLOCK is %.1f MiB, raise it with ulimit -l",
                 (double)rl.rlim_cur / BYTES_PER_MIB);
    snprintf(why, whylen, "%s%s", strerror(e), limit);
    return -1;
}

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

int bn_available_cores(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#endif /* !_WIN32 */
