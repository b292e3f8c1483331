/*
 * posix_win32.h - the POSIX functions beyond C11 that the project calls
 * and Windows' C runtime lacks (memmem, strndup, getline, open_memstream, S_ISSOCK),
 * supplied by posix_win32.c. The Windows build includes this header ahead
 * of every file (gcc -include), so the code keeps calling them by their
 * POSIX names; elsewhere it is empty.
 */
#ifndef BN_POSIX_WIN32_H
#define BN_POSIX_WIN32_H
#ifdef _WIN32

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

void *bn_memmem(const void *hay, size_t n, const void *needle, size_t m);
char *bn_strndup(const char *s, size_t n);
ssize_t bn_getline(char **line, size_t *cap, FILE *f);
/* A stream whose bytes land in *buf (NUL-terminated, *len long) when it
 * is closed; bn_fclose closes every stream and fills in those. */
FILE *bn_open_memstream(char **buf, size_t *len);
int bn_fclose(FILE *f);

#define memmem bn_memmem
#define strndup bn_strndup
#define getline bn_getline
#define open_memstream bn_open_memstream
#define fclose bn_fclose

#ifndef S_ISSOCK
#define S_ISSOCK(m) 0 /* no sockets in Windows' file system */
#endif

#endif
#endif
