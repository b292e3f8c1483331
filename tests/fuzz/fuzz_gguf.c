/*
 * fuzz_gguf.c - libFuzzer target: arbitrary bytes as a GGUF model file
 * through the reader, the tokenizer loader and the model binding
 * (fuzz_gguf_input in tests/fuzz_drivers.c). Built and run by `make fuzz`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_drivers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bad = fuzz_gguf_input(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_gguf: %s\n", bad);
        abort();
    }
    return 0;
}
