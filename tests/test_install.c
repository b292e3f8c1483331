/*
 * test_install.c - the engine as an installed library: tools/check-install.sh
 * installs what `make lib` built (next to this run-tests) into a temporary
 * prefix, builds examples/embed.c with only `pkg-config --cflags --libs
 * bitnet`, shared and static, and checks that it prints what bitnet-run
 * prints. Skipped without pkg-config or where the libraries were not built
 * (`make test` builds them; `make sanitize` and cross builds do not).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define SKIPPED 77 /* check-install.sh: a tool is missing */

/* The folder this run-tests lives in (its BUILD), into buf; 0 or -1. */
static int build_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    *slash = 0;
    return 0;
}

TEST(install_embed_example_matches_the_cli)
{
    char build[PATH_MAX], lib[PATH_MAX + 32];
    if (build_dir(build, sizeof build)) SKIP("cannot tell where run-tests lives (/proc/self/exe)");
    struct stat st;
    snprintf(lib, sizeof lib, "%s/libbitnet.a", build);
    if (stat(lib, &st)) SKIP("the libraries of this build are absent (make lib)");
    snprintf(lib, sizeof lib, "%s/libbitnet.so", build);
    if (stat(lib, &st)) SKIP("the libraries of this build are absent (make lib)");
    if (test_run("command -v pkg-config", NULL, NULL))
        SKIP("pkg-config is missing (apt-get install pkg-config): the installed library is "
             "not checked");

    char cmd[2 * PATH_MAX + 64], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "tools/check-install.sh '%s' '%s'", build, test_bitnet_run());
    int rc = test_run(cmd, &out, &err);
    if (rc == SKIPPED) {
        static char reason[256];
        snprintf(reason, sizeof reason, "%.200s", err && *err ? err : "a tool is missing");
        reason[strcspn(reason, "\n")] = 0;
        free(out);
        free(err);
        SKIP(reason);
    }
    CHECK_MSG(rc == 0, "tools/check-install.sh exited with %d: %s", rc, err ? err : "");
    CHECK(out && strstr(out, "check-install: ok"));
    free(out);
    free(err);
}
