/*
 * version.c - what a build is: --version's lines and the commit that
 * --bench's results name (build_commit). The Makefile passes the commit
 * as BN_BUILD_COMMIT and rebuilds this file when it changes.
 */
#include <stdio.h>

#include "bitnet-perf.h"
#include "cli.h"

#ifndef BN_BUILD_COMMIT
#define BN_BUILD_COMMIT "unknown"
#endif

/* The compiler's name and version: __VERSION__ alone is only a number for
 * gcc ("12.2.0"), while clang's already starts with its name. */
#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#elif defined(__VERSION__)
#define COMPILER __VERSION__
#else
#define COMPILER "an unknown compiler"
#endif

const char *cli_build_commit(void) { return BN_BUILD_COMMIT; }

/* --version: version, commit, compiler and the kernels this CPU can run. */
void cli_print_version(void)
{
    char kernels[256];
    bn_kernel_names(kernels, sizeof kernels);
    printf("bitnet-run %s (commit %s)\n"
           "built with %s\n"
           "kernels for this CPU: %s\n",
           BN_VERSION, cli_build_commit(), COMPILER, kernels);
}
