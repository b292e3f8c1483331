/*
 * unicode.h - UTF-8 decoding/encoding and the code-point classes the
 * pre-tokenizers need (docs/TOKENIZERS.md, Pre-tokenizers). The class
 * tables are generated into unicode_data.c by tools/gen_unicode.py.
 */
#ifndef BN_UNICODE_H
#define BN_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"

/* Code-point classes (regex terms of docs/TOKENIZERS.md, Pre-tokenizers). */
enum {
    BN_CPT_LETTER = 1, /* \p{L} */
    BN_CPT_NUMBER = 2, /* \p{N} */
    BN_CPT_PUNCT = 4,  /* \p{P} */
    BN_CPT_SPACE = 8,  /* \s: the White_Space property */
};

#define BN_UTF8_MAX 4              /* bytes of the longest UTF-8 sequence */
#define BN_CPT_REPLACEMENT 0xFFFDu /* U+FFFD, stands for an invalid byte */
#define BN_CPT_MAX 0x10FFFFu

typedef struct {
    uint32_t first, last; /* inclusive */
    uint8_t flags;
} bn_unicode_range;

/* Generated data (unicode_data.c). */
extern const char bn_unicode_version[];
extern const uint8_t bn_unicode_latin1_flags[256];
extern const bn_unicode_range bn_unicode_ranges[];
extern const size_t bn_unicode_n_ranges;

/* The BN_CPT_* flags of a code point (0 for none of them). */
unsigned bn_cpt_flags(uint32_t cp);

/* Length of the UTF-8 sequence a lead byte starts (1..4), or 0 when the
 * byte cannot start one (a continuation byte, 0xF8..0xFF). */
size_t bn_utf8_seq_len(unsigned char lead);

/* bn_utf8_decode and bn_utf8_encode are public (bitnet.h): the CLI's
 * JSON reads and writes UTF-8 with them too. */

#endif
