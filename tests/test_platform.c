/*
 * test_platform.c - the platform layer's contract (src/runtime/platform.h)
 * and the POSIX extensions the code calls, checked the same way on Linux
 * (glibc) and under Wine (platform_win32.c, posix_win32.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/errors.h"
#include "runtime/platform.h"
#include "test.h"

#define FILE_BYTES 100000
#define ALIGN 64
#define PAGES_BYTES ((size_t)4 << 20)

/* A new temporary file holding n bytes of a known pattern (n may be 0). */
static const char *write_pattern(size_t n)
{
    static char path[128];
    static int serial;
    snprintf(path, sizeof path, "/tmp/bn-platform-%d-%d", (int)getpid(), serial++);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    for (size_t i = 0; i < n; i++) fputc((int)(i * 7 % 251), f);
    return fclose(f) == 0 ? path : NULL;
}

static int is_pattern(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 7 % 251)) return 0;
    return 1;
}

TEST(platform_file_open_refuses_what_is_not_a_regular_file)
{
    char err[BN_ERR_LEN] = "";
    bn_file f;
    CHECK(bn_file_open(&f, "/nonexistent/bn-platform", err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "cannot open") != NULL, "missing file: %s", err);
    CHECK(bn_file_open(&f, "tests", err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "is a directory") != NULL, "directory: %s", err);
    const char *empty = write_pattern(0);
    CHECK(empty != NULL);
    if (!empty) return;
    CHECK(bn_file_open(&f, empty, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "file is empty") != NULL, "empty file: %s", err);
    unlink(empty);
}

TEST(platform_file_reads_and_maps_the_same_bytes)
{
    char err[BN_ERR_LEN] = "";
    const char *path = write_pattern(FILE_BYTES);
    bn_file f;
    CHECK(path != NULL);
    if (!path || bn_file_open(&f, path, err, sizeof err)) {
        CHECK_MSG(0, "cannot open the pattern file: %s", err);
        return;
    }
    CHECK_EQ_INT(f.size, FILE_BYTES);
    unsigned char *buf = malloc(FILE_BYTES);
    CHECK(buf && bn_file_read(&f, buf, err, sizeof err) == 0 && is_pattern(buf, FILE_BYTES));
    const void *map = bn_file_map(&f, err, sizeof err);
    bn_file_close(&f); /* the mapping outlives the handle */
    CHECK_MSG(map != NULL, "%s", err);
    if (map) {
        CHECK(is_pattern(map, FILE_BYTES));
        bn_file_release_pages(map, FILE_BYTES); /* read again from the file when touched */
        CHECK(is_pattern(map, FILE_BYTES));
        bn_file_unmap(map, FILE_BYTES);
    }
    free(buf);
    unlink(path);
}

TEST(platform_aligned_blocks_and_zeroed_pages)
{
    unsigned char *a = bn_aligned_alloc(ALIGN, (size_t)4 * ALIGN);
    CHECK(a != NULL && (uintptr_t)a % ALIGN == 0);
    if (a) memset(a, 1, (size_t)4 * ALIGN);
    bn_aligned_free(a);
    unsigned char *p = bn_pages_map(PAGES_BYTES, 1);
    CHECK(p != NULL);
    if (!p) return;
    size_t nonzero = 0;
    for (size_t i = 0; i < PAGES_BYTES; i++) nonzero += p[i] != 0;
    CHECK_EQ_INT(nonzero, 0);
    memset(p, 2, PAGES_BYTES);
    bn_pages_unmap(p, PAGES_BYTES);
}

TEST(platform_lock_pages_succeeds_or_says_why)
{
    unsigned char *p = bn_aligned_alloc(ALIGN, ALIGN);
    char why[BN_ERR_LEN] = "";
    CHECK(p != NULL);
    if (!p) return;
    const int rc = bn_lock_pages(p, ALIGN, why, sizeof why);
    CHECK_MSG(rc == 0 || (rc == -1 && why[0] && !strchr(why, '\n')), "rc %d, why '%s'", rc, why);
    bn_aligned_free(p);
}

TEST(posix_extensions_behave_as_glibc)
{
    static const char hay[] = "abcabd\0abe";
    CHECK(memmem(hay, sizeof hay - 1, "abd", 3) == hay + 3);
    CHECK(memmem(hay, sizeof hay - 1, "abe", 3) == hay + 7); /* past a NUL */
    CHECK(memmem(hay, sizeof hay - 1, "abf", 3) == NULL);
    CHECK(memmem(hay, 2, "abc", 3) == NULL);
    char *d = strndup("hello", 3);
    CHECK(d && !strcmp(d, "hel"));
    free(d);
    d = strndup("hi", 10);
    CHECK(d && !strcmp(d, "hi"));
    free(d);

    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHECK(m != NULL);
    if (m) {
        fprintf(m, "%s %d", "x", 42);
        fputs(" and more", m);
        CHECK(fclose(m) == 0);
        CHECK_MSG(buf && len == 13 && !strcmp(buf, "x 42 and more"),
                  "open_memstream gave %zu bytes '%s'", len, buf ? buf : "(null)");
    }
    free(buf);

    const char *path = write_pattern(0);
    FILE *f = path ? fopen(path, "wb") : NULL;
    CHECK(f != NULL);
    if (!f) return;
    fputs("one\nlonger line two\nlast", f);
    fclose(f);
    f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    CHECK(getline(&line, &cap, f) == 4 && !strcmp(line, "one\n"));
    CHECK(getline(&line, &cap, f) == 16 && !strcmp(line, "longer line two\n"));
    CHECK(getline(&line, &cap, f) == 4 && !strcmp(line, "last"));
    CHECK(getline(&line, &cap, f) == -1);
    free(line);
    fclose(f);
    unlink(path);
}
