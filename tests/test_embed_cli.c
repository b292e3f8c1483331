/*
 * test_embed_cli.c - --embedding's formats and refusals, and the server's
 * /v1/embeddings and /embedding (tests/server/embeddings.sh, with curl and
 * the openai npm client), on the shared tiny-bitnet-embed-i2s.gguf. They
 * drive bitnet-run through a POSIX shell (POSIX_ONLY_TESTS).
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define EMBED_MODEL "models/tiny-bitnet-embed-i2s.gguf"

#define CMD_LEN 1024

/* Runs bitnet-run with args on the embedding fixture; exit status, output. */
static int run_embed_cli(const char *model, const char *args, char **out, char **err)
{
    char cmd[CMD_LEN];
    snprintf(cmd, sizeof cmd, "%s -m %s -t 1 %s", test_bitnet_run(), model, args);
    return test_run(cmd, out, err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

TEST(embed_cli_formats)
{
    SHARED_OR_SKIP(path, EMBED_MODEL);
    char *out = NULL, *err = NULL;
    static const char texts[] = "-p '2+2=\nThe capital of France is\n'";
    char args[256];
    snprintf(args, sizeof args, "--embedding %s --embd-output-format json", texts);
    CHECK_EQ_INT(run_embed_cli(path, args, &out, &err), 0);
    CHECK_MSG(out &&
                  strstr(out, "{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", "
                              "\"index\": 0, \"embedding\": [0.0807") &&
                  strstr(out, "\"index\": 1") && !strstr(out, "\"index\": 2") &&
                  strstr(out, "\"usage\": {\"prompt_tokens\": "),
              "json: %s", out);
    CHECK(err && strstr(err, "embedded 2 texts"));
    free(out), free(err);
    snprintf(args, sizeof args, "--embedding %s --embd-output-format array", texts);
    CHECK_EQ_INT(run_embed_cli(path, args, &out, NULL), 0);
    CHECK_MSG(out && !strncmp(out, "[[0.0807", 8) && strstr(out, "], [") && count_lines(out) == 1,
              "array: %.80s", out);
    free(out);
    snprintf(args, sizeof args, "--embedding %s --embd-output-format raw -q", texts);
    CHECK_EQ_INT(run_embed_cli(path, args, &out, NULL), 0);
    CHECK_MSG(out && !strncmp(out, "0.0807", 6) && count_lines(out) == 2, "raw: %.80s", out);
    free(out);
    snprintf(args, sizeof args, "--embedding %s --pooling mean --embd-normalize -1", texts);
    CHECK_EQ_INT(run_embed_cli(path, args, &out, NULL), 0);
    CHECK_MSG(out && !strncmp(out, "embedding 0: ", 13) && strstr(out, "\nembedding 1: ") &&
                  !strstr(out, "0.080796"),
              "mean, unnormalized: %.80s", out);
    free(out);
}

TEST(embed_cli_refuses_what_does_not_fit)
{
    SHARED_OR_SKIP(path, EMBED_MODEL);
    static const struct {
        const char *args, *want;
        int status;
    } cases[] = {
        {"-p hi", "is an embedding model", 1},
        {"--chat", "is an embedding model", 1},
        {"--embedding --pooling rank -p hi", "--pooling expects none, mean, cls or last", 1},
        {"--embedding --embd-output-format xml -p hi", "--embd-output-format expects", 1},
        {"--pooling last -p hi", "--pooling and --embd-output-format need --embedding", 1},
        {"--embedding --chat", "--embedding cannot be combined", 1},
        {"--embedding -p ''", "no text to embed", 1},
        {"--embedding --embd-normalize 1001 -p hi", "--embd-normalize expects an integer", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = NULL;
        const int rc = run_embed_cli(path, cases[i].args, NULL, &err);
        CHECK_MSG(rc == cases[i].status && err && strstr(err, cases[i].want) &&
                      count_lines(err) == 1,
                  "%s: status %d, stderr %s", cases[i].args, rc, err);
        free(err);
    }
}

/* /v1/embeddings and /embedding with curl (and the openai npm client when
 * installed), against the CLI, and their 400s: tests/server/embeddings.sh. */
TEST(embed_server_endpoints)
{
    SHARED_OR_SKIP(path, EMBED_MODEL);
    if (test_run("curl --version >/dev/null 2>&1", NULL, NULL) != 0) SKIP("curl is not installed");
    char cmd[CMD_LEN], *out = NULL;
    snprintf(cmd, sizeof cmd, "sh tests/server/embeddings.sh %s %s", test_bitnet_run(), path);
    const int rc = test_run(cmd, &out, NULL);
    CHECK_MSG(rc == 0 && out && strstr(out, "embeddings.sh: ok"), "%s", out);
    free(out);
}
