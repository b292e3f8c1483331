/*
 * posix_win32.c - memmem, strndup, getline and open_memstream for Windows
 * (posix_win32.h). A memory stream is a temporary file that Windows keeps
 * in its cache and deletes on close; bn_fclose reads it back into the
 * caller's buffer, as glibc's fclose leaves the bytes in it.
 */
#ifdef _WIN32

#include "posix_win32.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <windows.h>

#undef fclose /* the C runtime's, from here on */

void *bn_memmem(const void *hay, size_t n, const void *needle, size_t m)
{
    if (!m) return (void *)hay;
    const char *h = hay;
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (h[i] == *(const char *)needle && !memcmp(h + i, needle, m)) return (void *)(h + i);
    return NULL;
}

char *bn_strndup(const char *s, size_t n)
{
    const char *end = memchr(s, 0, n);
    const size_t len = end ? (size_t)(end - s) : n;
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

#define LINE_START 128

ssize_t bn_getline(char **line, size_t *cap, FILE *f)
{
    if (!line || !cap || !f) {
        errno = EINVAL;
        return -1;
    }
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        if (n + 2 > *cap || !*line) {
            const size_t grown = *cap && *line ? 2 * *cap : LINE_START;
            char *p = realloc(*line, grown);
            if (!p) return -1;
            *line = p;
            *cap = grown;
        }
        (*line)[n++] = (char)c;
        if (c == '\n') break;
    }
    if (!n) return -1;
    (*line)[n] = 0;
    return (ssize_t)n;
}

/* The open memory streams and where their bytes go. */
typedef struct {
    FILE *f;
    char **buf;
    size_t *len;
} memstream;

static memstream *streams;
static size_t n_streams, cap_streams;
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;

/* A read-write temporary file deleted when it is closed, as a stream. */
static FILE *temp_stream(void)
{
    wchar_t dir[MAX_PATH + 1], path[MAX_PATH + 1];
    if (!GetTempPathW(MAX_PATH + 1, dir) || !GetTempFileNameW(dir, L"bn", 0, path)) return NULL;
    HANDLE h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, NULL);
    if (h == INVALID_HANDLE_VALUE) return NULL;
    const int fd = _open_osfhandle((intptr_t)h, _O_RDWR | _O_BINARY);
    if (fd < 0) {
        CloseHandle(h);
        return NULL;
    }
    FILE *f = _fdopen(fd, "w+b");
    if (!f) _close(fd);
    return f;
}

FILE *bn_open_memstream(char **buf, size_t *len)
{
    FILE *f = temp_stream();
    if (!f) return NULL;
    pthread_mutex_lock(&streams_lock);
    if (n_streams == cap_streams) {
        const size_t grown = cap_streams ? 2 * cap_streams : 8;
        memstream *p = realloc(streams, grown * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&streams_lock);
            fclose(f);
            return NULL;
        }
        streams = p;
        cap_streams = grown;
    }
    streams[n_streams++] = (memstream){f, buf, len};
    pthread_mutex_unlock(&streams_lock);
    *buf = NULL;
    *len = 0;
    return f;
}

/* The stream's bytes into a new NUL-terminated buffer; 0 or -1. */
static int read_back(FILE *f, char **buf, size_t *len)
{
    if (fflush(f)) return -1;
    const long long size = _ftelli64(f);
    if (size < 0 || (unsigned long long)size >= SIZE_MAX || fseek(f, 0, SEEK_SET)) return -1;
    char *p = malloc((size_t)size + 1);
    if (!p) return -1;
    if (fread(p, 1, (size_t)size, f) != (size_t)size) {
        free(p);
        return -1;
    }
    p[size] = 0;
    *buf = p;
    *len = (size_t)size;
    return 0;
}

int bn_fclose(FILE *f)
{
    memstream m = {NULL, NULL, NULL};
    pthread_mutex_lock(&streams_lock);
    for (size_t i = 0; i < n_streams; i++)
        if (streams[i].f == f) {
            m = streams[i];
            streams[i] = streams[--n_streams];
            break;
        }
    pthread_mutex_unlock(&streams_lock);
    const int bad = m.f && read_back(f, m.buf, m.len);
    const int rc = fclose(f);
    return bad ? EOF : rc;
}

#endif /* _WIN32 */
