/*
 * fuzz_drivers.h - what the fuzz targets of tests/fuzz/ do with one input,
 * kept here so that the regression tests (test_hostile.c) feed saved
 * inputs through exactly the same path as the fuzzers.
 *
 * Each driver returns NULL when the engine behaved (any input may be
 * rejected, but with a non-empty one-line message), or a description of
 * the broken promise; memory errors are left to the sanitizers.
 */
#ifndef BN_FUZZ_DRIVERS_H
#define BN_FUZZ_DRIVERS_H

#include <stddef.h>
#include <stdint.h>

/* A GGUF file: parsed from memory (so ASan sees any over-read of the
 * exact-size buffer), every key, array and tensor read back through the
 * accessors, the tokenizer built from it, then the whole model bound by
 * bn_model_load from a memfd and, when it loads, two tokens evaluated. */
const char *fuzz_gguf_input(const uint8_t *data, size_t size);

/* Loads the vocabularies the tokenizer driver uses: the bundled model's
 * with each of its pre-tokenizers, plus the shared LLaMA-2 (SentencePiece)
 * and LLaMA-3 ones when ../shared exists. Returns how many (0 = failure);
 * fuzz_tokenizer_done() frees them. */
int fuzz_tokenizer_init(void);
void fuzz_tokenizer_done(void);

/* Byte 0 picks the vocabulary and the BN_TOK_* flags; the rest is the text.
 * It is tokenized, every id checked, decoded (whole and piece by piece
 * into small buffers) and, for valid UTF-8 without special-token parsing,
 * required to decode back to the text. */
const char *fuzz_tokenizer_input(const uint8_t *data, size_t size);

/* An HTTP request (the server's parser, src/server/http.c): parsed whole and
 * at every cut, with a small and a large body limit. A complete request
 * must lie within the bytes given, a cut one must not be complete, and a
 * rejection must carry a 4xx/5xx status and a reason. */
const char *fuzz_http_input(const uint8_t *data, size_t size);

/* Byte 0 even: the rest is GBNF grammar text; odd: a JSON Schema, turned
 * into a grammar (by fuzz_schema_to_grammar, when set: the fuzz target
 * sets it, the test runner, which cannot link common/json.c, does not)
 * that must then parse. A grammar that parses is run over the input's own
 * bytes and a few JSON texts; refusals must say why. */
const char *fuzz_grammar_input(const uint8_t *data, size_t size);
extern char *(*fuzz_schema_to_grammar)(const char *schema, size_t len, char *err);

#endif
