/*
 * platform.h - what the engine needs from the operating system and that
 * differs between POSIX and Windows: aligned heap blocks, anonymous page
 * mappings, read-only file mappings, locking and releasing pages, and the
 * cores the process may use. platform_posix.c is the reference;
 * platform_win32.c does the same with the Win32 API. (The resident-memory
 * figures of memory.h and bn_available_cores of threadpool.h are
 * implemented there too.) Paths are UTF-8 on every system.
 */
#ifndef BN_PLATFORM_H
#define BN_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* `bytes` at a multiple of `align` (a power of two), freed only with
 * bn_aligned_free (Windows' C runtime has no aligned_alloc). */
void *bn_aligned_alloc(size_t align, size_t bytes);
void bn_aligned_free(void *p);

/* Zeroed read-write pages of their own, or NULL; `huge` asks for huge
 * (large) pages where the system grants them, as advice. */
void *bn_pages_map(size_t bytes, int huge);
void bn_pages_unmap(void *p, size_t bytes);

/* An open regular, non-empty file: its handle and size. */
typedef struct {
    intptr_t os; /* a descriptor, or a Windows HANDLE */
    size_t size;
} bn_file;

/* Opens path for reading; 0, or -1 with err saying why (one line). Refuses
 * what is not a regular file (directories, FIFOs, devices) and empty files,
 * without blocking on a FIFO. */
int bn_file_open(bn_file *f, const char *path, char *err, size_t errlen);
/* Reads the whole file into buf (f->size bytes); 0, or -1 with err set. */
int bn_file_read(const bn_file *f, void *buf, char *err, size_t errlen);
/* Maps the whole file read-only; the mapping, or NULL with err set. The
 * file may be closed while the mapping lives. */
const void *bn_file_map(const bn_file *f, char *err, size_t errlen);
void bn_file_close(bn_file *f);
void bn_file_unmap(const void *map, size_t size);

/* Drops the whole pages of [p, p + n), part of a file mapping, from the
 * resident set: the system reads them again from the file if touched. */
void bn_file_release_pages(const void *p, size_t n);

/* Locks [p, p + n) in RAM; 0, or -1 with why saying what failed and what
 * limit to raise (one line). */
int bn_lock_pages(const void *p, size_t n, char *why, size_t whylen);

#endif
