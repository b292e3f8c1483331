/*
 * test_support.c - helpers of test.h that programs other than run-tests
 * also link (the fuzz targets and seed writer of tests/fuzz/): the shared
 * directory, whole-file reads and running a command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

const char *test_shared_dir(void)
{
    const char *env = getenv("BN_SHARED");
    const char *dir = env && *env ? env : "../shared";
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

const char *test_shared_path(const char *rel)
{
    /* a few rotating buffers, so a test may hold several paths at once */
    static char bufs[8][4096];
    static int next;
    const char *dir = test_shared_dir();
    if (!dir) return NULL;
    char *buf = bufs[next++ % 8];
    snprintf(buf, sizeof bufs[0], "%s/%s", dir, rel);
    return buf;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int test_run(const char *cmd, char **out, char **err_out)
{
    char errpath[] = "/tmp/bn-test-stderr-XXXXXX";
    int fd = mkstemp(errpath);
    if (fd < 0) return -1;
    char full[8192];
    snprintf(full, sizeof full, "%s 2>%s", cmd, errpath);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    buf[n] = 0;
    int status = pclose(p);
    if (out) *out = buf;
    else free(buf);
    if (err_out) *err_out = test_read_file(errpath, NULL);
    unlink(errpath);
    close(fd);
    if (status == -1) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
