/*
 * posix_only.c - in the Windows build, one skipped test naming the test
 * files left out of it (the Makefile's POSIX_ONLY_TESTS) and saying why.
 */
#include "test.h"

#ifdef _WIN32
TEST(posix_only_test_files)
{
    SKIP(BN_POSIX_ONLY_TESTS ": drive bitnet-run through a POSIX shell, fork or signals; "
                             "tools/ci-windows.sh runs the CLI and the server under Wine");
}
#endif
