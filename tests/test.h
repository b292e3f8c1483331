/*
 * test.h - the tiny test framework of bitnet-run.
 *
 * A test is a function declared with TEST(name); it registers itself at
 * startup, so adding a test file needs no other edit. CHECK records a
 * failure and goes on; SKIP ends the test as skipped with a reason that is
 * printed. tests/test_main.c runs them all and ends with the line
 * "N passed, N failed, N skipped".
 */
#ifndef BN_TEST_H
#define BN_TEST_H

#include <stdint.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void test_skip(const char *reason);

/* "../shared" when it exists (or $BN_SHARED), else NULL. */
const char *test_shared_dir(void);
/* Joins the shared dir and a relative path into one of 8 rotating static
 * buffers, or NULL when ../shared is absent (then the caller SKIPs). */
const char *test_shared_path(const char *rel);
/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
char *test_read_file(const char *path, size_t *len);
/* Runs a shell command, captures stdout into a malloc'd string and returns
 * the exit status (or -1). stderr goes to *err_out when not NULL. */
int test_run(const char *cmd, char **out, char **err_out);
/* The bitnet-run binary the CLI tests run: $BN_BITNET_RUN (`make sanitize`
 * points it at its instrumented build), else ./bitnet-run. */
const char *test_bitnet_run(void);

/* A seeded splitmix64 generator, so every random case is reproducible. */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);
int rng_int(int lo, int hi);         /* uniform in [lo, hi] */
float rng_float(float lo, float hi); /* uniform in [lo, hi) */

/* The kernels' results compare bit for bit (NaNs and signed zeros too):
 * a and b hold the same bits; the n floats of a and b do. */
int same_bits(float a, float b);
int same_floats(const float *a, const float *b, int n);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void name##_register(void) { test_register(#name, name); } \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                                   \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);     \
    } while (0)

#define SKIP(reason)                                                                               \
    do {                                                                                           \
        test_skip(reason);                                                                         \
        return;                                                                                    \
    } while (0)

/* Tests that run bitnet-run through a POSIX shell (test_run with pipes,
 * quotes and redirections) skip in the Windows build: tools/ci-windows.sh
 * runs the CLI there from Linux, under Wine. */
#ifdef _WIN32
#define POSIX_SHELL_OR_SKIP()                                                                      \
    SKIP("runs bitnet-run through a POSIX shell; tools/ci-windows.sh runs the CLI under Wine")
#else
#define POSIX_SHELL_OR_SKIP() ((void)0)
#endif

/* (rel must be a string literal: it is pasted into the message) */
#define SHARED_OR_SKIP(var, rel)                                                                   \
    const char *var = test_shared_path(rel);                                                       \
    if (!var) SKIP("../shared is absent (" rel ")") /* NOLINT(bugprone-macro-parentheses) */

#endif
