/*
 * fuzz_grammar.c - libFuzzer target: arbitrary bytes as a GBNF grammar or
 * a JSON Schema (byte 0 picks), parsed, and when it parses, run over the
 * input and a few JSON texts (fuzz_grammar_input in tests/fuzz_drivers.c).
 * Built and run by `make fuzz`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/json_schema.h"
#include "fuzz_drivers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_schema_to_grammar = json_schema_to_grammar;
    const char *bad = fuzz_grammar_input(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_grammar: %s\n", bad);
        abort();
    }
    return 0;
}
