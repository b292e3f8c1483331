/*
 * fuzz_http.c - libFuzzer target: arbitrary bytes as an HTTP request to
 * the server's parser (src/server/http.c), whole and cut short, under two
 * body limits (fuzz_http_input in tests/fuzz_drivers.c). Built and run by
 * `make fuzz`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_drivers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bad = fuzz_http_input(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_http: %s\n", bad);
        abort();
    }
    return 0;
}
