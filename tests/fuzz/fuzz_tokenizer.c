/*
 * fuzz_tokenizer.c - libFuzzer target: arbitrary bytes tokenized and decoded
 * on the bundled model's vocabulary (and the shared ones when present), with
 * and without BOS and special-token parsing (fuzz_tokenizer_input in
 * tests/fuzz_drivers.c). Built and run by `make fuzz`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_drivers.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int n = fuzz_tokenizer_init();
    if (!n) {
        fprintf(stderr, "fuzz_tokenizer: cannot load models/bitnet-tiny.gguf (run from the "
                        "repository root)\n");
        exit(1);
    }
    fprintf(stderr, "fuzz_tokenizer: %d vocabularies\n", n);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bad = fuzz_tokenizer_input(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", bad);
        abort();
    }
    return 0;
}
