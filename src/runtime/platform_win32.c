/*
 * platform_win32.c - platform.h, memory.h and bn_available_cores on
 * Windows, with the Win32 API: VirtualAlloc, CreateFileMapping and
 * MapViewOfFile, VirtualLock, GetProcessMemoryInfo and the process's
 * affinity mask. It follows platform_posix.c, the reference; paths arrive
 * in UTF-8 and are widened for the W functions.
 */
#ifdef _WIN32

#include "platform.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>
#include <psapi.h>

#include "memory.h"
#include "threadpool.h"

#define BYTES_PER_MIB (1024.0 * 1024.0)
#define MAX_WPATH 32768 /* the longest path the W functions take */

void *bn_aligned_alloc(size_t align, size_t bytes) { return _aligned_malloc(bytes, align); }

void bn_aligned_free(void *p) { _aligned_free(p); }

/* Large pages need the "Lock pages in memory" right (SeLockMemoryPrivilege),
 * which few accounts hold and which is off in the process's token until it
 * is turned on: whether that worked, asked once. */
static int large_pages_allowed(void)
{
    static int allowed = -1;
    if (allowed >= 0) return allowed;
    allowed = 0;
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token))
        return 0;
    TOKEN_PRIVILEGES tp = {.PrivilegeCount = 1};
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    if (LookupPrivilegeValueA(NULL, "SeLockMemoryPrivilege", &tp.Privileges[0].Luid) &&
        AdjustTokenPrivileges(token, FALSE, &tp, 0, NULL, NULL))
        allowed = GetLastError() == ERROR_SUCCESS; /* not ERROR_NOT_ALL_ASSIGNED */
    CloseHandle(token);
    return allowed;
}

/* Large pages where the account may have them and the size allows, small
 * pages otherwise. */
void *bn_pages_map(size_t bytes, int huge)
{
    const size_t large = GetLargePageMinimum();
    void *p = NULL;
    if (huge && large && bytes % large == 0 && large_pages_allowed())
        p = VirtualAlloc(NULL, bytes, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
    if (!p) p = VirtualAlloc(NULL, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    return p;
}

void bn_pages_unmap(void *p, size_t bytes)
{
    (void)bytes; /* MEM_RELEASE frees the whole reservation */
    VirtualFree(p, 0, MEM_RELEASE);
}

/* The last Win32 error as a one-line message, in the C library's words
 * for the common ones so that messages read the same as on Linux. */
static const char *win_error(char *buf, size_t len)
{
    const DWORD e = GetLastError();
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME: return "No such file or directory";
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION: return "Permission denied";
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return "Cannot allocate memory";
    default: break;
    }
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0,
                             buf, (DWORD)len, NULL);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.')) buf[--n] = 0;
    if (!n) snprintf(buf, len, "Windows error %lu", (unsigned long)e);
    return buf;
}

/* path (UTF-8) widened into w; 0, or -1 when it is not valid UTF-8. */
static int widen(const char *path, wchar_t *w, int wlen)
{
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, wlen) > 0 ? 0 : -1;
}

int bn_file_open(bn_file *f, const char *path, char *err, size_t errlen)
{
    char msg[256];
    wchar_t *wpath = malloc(MAX_WPATH * sizeof *wpath);
    if (!wpath || widen(path, wpath, MAX_WPATH)) {
        free(wpath);
        snprintf(err, errlen, "cannot open: No such file or directory");
        return -1;
    }
    const DWORD attr = GetFileAttributesW(wpath);
    HANDLE h = attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY)
                   ? INVALID_HANDLE_VALUE
                   : CreateFileW(wpath, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
                                 OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    free(wpath);
    if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY)) {
        snprintf(err, errlen, "is a directory, not a regular file");
        return -1;
    }
    if (h == INVALID_HANDLE_VALUE) {
        snprintf(err, errlen, "cannot open: %s", win_error(msg, sizeof msg));
        return -1;
    }
    LARGE_INTEGER size;
    const char *bad = GetFileType(h) != FILE_TYPE_DISK               ? "is not a regular file"
                      : !GetFileSizeEx(h, &size)                     ? "cannot stat: size unknown"
                      : size.QuadPart == 0                           ? "file is empty"
                      : (unsigned long long)size.QuadPart > SIZE_MAX ? "file is too large"
                                                                     : NULL;
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        CloseHandle(h);
        return -1;
    }
    f->os = (intptr_t)h;
    f->size = (size_t)size.QuadPart;
    return 0;
}

#define READ_PIECE ((DWORD)1 << 30) /* ReadFile takes at most 4 GiB - 1 at once */

int bn_file_read(const bn_file *f, void *buf, char *err, size_t errlen)
{
    char msg[256];
    for (size_t done = 0; done < f->size;) {
        const size_t left = f->size - done;
        OVERLAPPED at = {0};
        at.Offset = (DWORD)done;
        at.OffsetHigh = (DWORD)((unsigned long long)done >> 32);
        DWORD got = 0;
        if (!ReadFile((HANDLE)f->os, (char *)buf + done,
                      left < READ_PIECE ? (DWORD)left : READ_PIECE, &got, &at) ||
            !got) {
            snprintf(err, errlen, "cannot read: %s",
                     got ? win_error(msg, sizeof msg) : "file shrank");
            return -1;
        }
        done += got;
    }
    return 0;
}

const void *bn_file_map(const bn_file *f, char *err, size_t errlen)
{
    char msg[256];
    HANDLE m = CreateFileMappingW((HANDLE)f->os, NULL, PAGE_READONLY, 0, 0, NULL);
    const void *view = m ? MapViewOfFile(m, FILE_MAP_READ, 0, 0, f->size) : NULL;
    if (!view) snprintf(err, errlen, "cannot map: %s", win_error(msg, sizeof msg));
    if (m) CloseHandle(m); /* the view keeps the mapping alive */
    return view;
}

void bn_file_close(bn_file *f)
{
    CloseHandle((HANDLE)f->os);
    f->os = (intptr_t)INVALID_HANDLE_VALUE;
}

void bn_file_unmap(const void *map, size_t size)
{
    (void)size;
    UnmapViewOfFile(map);
}

/* VirtualUnlock of pages that are not locked removes them from the
 * working set, which is what madvise(MADV_DONTNEED) does for a read-only
 * file mapping; it "fails" by design, so its result is ignored. */
void bn_file_release_pages(const void *p, size_t n)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    const uintptr_t page = si.dwPageSize;
    const uintptr_t lo = ((uintptr_t)p + page - 1) / page * page;
    const uintptr_t hi = ((uintptr_t)p + n) / page * page;
    if (hi > lo) VirtualUnlock((void *)lo, hi - lo);
}

/* Windows locks at most the process's minimum working set: it is grown by
 * the range first. */
int bn_lock_pages(const void *p, size_t n, char *why, size_t whylen)
{
    char msg[256];
    if (!n) return 0;
    SIZE_T lo, hi;
    HANDLE self = GetCurrentProcess();
    if (GetProcessWorkingSetSize(self, &lo, &hi))
        SetProcessWorkingSetSize(self, lo + n, hi > lo + n ? hi : lo + n);
    if (VirtualLock((void *)p, n)) return 0;
    snprintf(why, whylen, "%s; the working-set quota limits it", win_error(msg, sizeof msg));
    return -1;
}

static double memory_mib(int peak)
{
    PROCESS_MEMORY_COUNTERS c;
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c)) return -1.0;
    return (double)(peak ? c.PeakWorkingSetSize : c.WorkingSetSize) / BYTES_PER_MIB;
}

double bn_resident_mib(void) { return memory_mib(0); }

double bn_peak_resident_mib(void) { return memory_mib(1); }

int bn_available_cores(void)
{
    DWORD_PTR process, system;
    if (GetProcessAffinityMask(GetCurrentProcess(), &process, &system) && process) {
        int n = 0;
        for (; process; process &= process - 1) n++;
        return n;
    }
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}

#endif /* _WIN32 */
