/*
 * test_cli_model_flags.c - how the model file is loaded: --info reads only
 * the metadata (a model loaded vocab_only describes itself and tokenizes
 * but cannot be evaluated) and shows the name, file size, special tokens
 * and chat format; --no-mmap and --mlock give the same text as a mapped
 * load, and --mlock fails clearly when the weights cannot be locked;
 * llama.cpp's GPU flags are accepted with one notice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitnet.h"
#include "test.h"

#define MODEL "models/bitnet-tiny.gguf"
#define BYTES_PER_MIB (1024.0 * 1024.0)

/* bitnet-run -m MODEL -t 1 ARGS through the shell; the exit status. */
static int run(const char *args, char **out, char **err)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -m " MODEL " -t 1 %s", test_bitnet_run(), args);
    return test_run(cmd, out, err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

TEST(model_vocab_only_describes_but_does_not_evaluate)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    p.vocab_only = 1;
    p.n_threads = 1;
    bn_model *m = bn_model_load(MODEL, &p, err);
    CHECK_MSG(m != NULL, "%s", err);
    if (!m) return;
    int32_t *ids = NULL;
    CHECK_EQ_INT(bn_tokenize(bn_model_tokenizer(m), "2+2=", 4, BN_TOK_ADD_BOS, &ids, err), 5);
    free(ids);
    CHECK(bn_context_new(m, NULL, err) == NULL && strstr(err, "without its weights"));
    CHECK(bn_session_new(m, NULL, err) == NULL);
    bn_model_free(m);
}

TEST(cli_info_shows_name_size_tokens_and_format)
{
    char *out = NULL, *err = NULL, want[128];
    CHECK_EQ_INT(run("--info", &out, &err), 0);
    struct stat st;
    CHECK(stat(MODEL, &st) == 0);
    snprintf(want, sizeof want, "file size:       %.2f MiB\n", (double)st.st_size / BYTES_PER_MIB);
    static const char *const lines[] = {
        "name:            bitnet-tiny\n",
        ("special tokens:  BOS 1016 '<|begin_of_text|>', EOS 1017 '<|end_of_text|>', EOT 1023 "
         "'<|eot_id|>'\n"),
        "chat format:     bitnet\n", "ternary weights: 28 matrices, repacked to QK256 at load\n"};
    CHECK_MSG(out && strstr(out, want), "no '%s' in %s", want, out);
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        CHECK_MSG(out && strstr(out, lines[i]), "no '%s' in %s", lines[i], out);
    free(out), free(err);
}

TEST(cli_no_mmap_and_mlock_give_the_same_text)
{
    char *mapped = NULL, *other = NULL;
    CHECK_EQ_INT(run("-p 'The capital of France is' --temp 0 -n 8 -q", &mapped, NULL), 0);
    static const char *const flags[] = {"--no-mmap", "--mlock", "--no-mmap --mlock"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char args[256];
        snprintf(args, sizeof args, "-p 'The capital of France is' --temp 0 -n 8 -q %s", flags[i]);
        CHECK_EQ_INT(run(args, &other, NULL), 0);
        CHECK_MSG(mapped && other && *mapped && !strcmp(mapped, other), "%s: '%s' vs '%s'",
                  flags[i], other, mapped);
        free(other);
    }
    free(mapped);
}

TEST(cli_mlock_fails_clearly_without_the_right)
{
#ifdef __SANITIZE_ADDRESS__
    /* ASan's mlock interceptor does nothing and reports success */
    SKIP("mlock is a no-op under AddressSanitizer; the plain build runs this test");
#endif
    /* root locks memory whatever the limit: drop that right where it can be */
    const char *drop = "";
    if (geteuid() == 0) {
        if (test_run("setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock true", NULL, NULL))
            SKIP("running as root and setpriv cannot drop CAP_IPC_LOCK");
        drop = "setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock ";
    }
    char cmd[1024], *err = NULL;
    snprintf(cmd, sizeof cmd, "%ssh -c 'ulimit -l 0 && %s -m " MODEL " -t 1 -p 2+2= --mlock'", drop,
             test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, NULL, &err), 2);
    CHECK_MSG(err && strstr(err, "bitnet-run: error: " MODEL ": cannot lock ") &&
                  strstr(err, "RLIMIT_MEMLOCK is 0.0 MiB, raise it with ulimit -l") &&
                  count_lines(err) == 1,
              "%s", err);
    free(err);
}

TEST(cli_gpu_flags_are_accepted_with_a_notice)
{
    char *plain = NULL, *gpu = NULL, *err = NULL;
    CHECK_EQ_INT(run("-p 2+2= --temp 0", &plain, NULL), 0);
    CHECK_EQ_INT(run("-ngl 0 -fa on -sm layer -mg 0 -ts 3,1 --flash-attn -nkvo -p 2+2= --temp 0",
                     &gpu, &err),
                 0);
    CHECK(plain && gpu && !strcmp(plain, gpu));
    CHECK_MSG(err && strstr(err, "bitnet-run: -fa ignored: bitnet-run has no such setting\n") &&
                  count_lines(err) == 2, /* the notice and the stats line */
              "%s", err);
    free(plain), free(gpu), free(err);
    CHECK_EQ_INT(run("-p 2+2= --n-gpu-layers", NULL, &err), 1);
    CHECK_MSG(err && strstr(err, "--n-gpu-layers needs a value"), "%s", err);
    free(err);
}
