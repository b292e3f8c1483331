/*
 * test_support.c - helpers of test.h that programs other than run-tests
 * also link (the fuzz targets and seed writer of tests/fuzz/): the shared
 * directory, whole-file reads and running a command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#ifdef _WIN32
#define EXIT_STATUS(s) (s) /* _pclose returns the exit code itself */
#else
#include <sys/wait.h>
#define EXIT_STATUS(s) (WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s))
#endif

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

#define READ_CHUNK (1 << 16)
#define CMD_MAX 8192

/* Reads a stream to its end into a malloc'd, NUL-terminated buffer. */
static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = READ_CHUNK, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n < cap) continue;
        char *grown = realloc(buf, 2 * cap + 1);
        if (!grown) free(buf);
        buf = grown;
        cap *= 2;
    }
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = read_stream(f, len);
    fclose(f);
    return buf;
}

int test_run(const char *cmd, char **out, char **err_out)
{
    char errpath[] = "/tmp/bn-test-stderr-XXXXXX";
    int fd = mkstemp(errpath);
    if (fd < 0) return -1;
    close(fd);
    char full[CMD_MAX];
    snprintf(full, sizeof full, "%s 2>%s", cmd, errpath);
    FILE *p = popen(full, "r"); /* NOLINT(cert-env33-c): running a command is the point */
    char *buf = p ? read_stream(p, NULL) : NULL;
    int status = p ? pclose(p) : -1;
    if (out)
        *out = buf;
    else
        free(buf);
    if (err_out) *err_out = test_read_file(errpath, NULL);
    unlink(errpath);
    if (status == -1) return -1;
    return EXIT_STATUS(status);
}

const char *test_bitnet_run(void)
{
    const char *env = getenv("BN_BITNET_RUN");
    return env && *env ? env : "./bitnet-run";
}

static uint64_t rng_state;

void rng_seed(uint64_t seed) { rng_state = seed; }

uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int rng_int(int lo, int hi) { return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1)); }

float rng_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) / 9007199254740992.0);
}

int same_bits(float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return x == y;
}

int same_floats(const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (!same_bits(a[i], b[i])) return 0;
    return 1;
}
