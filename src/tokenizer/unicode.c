/*
 * unicode.c - strict UTF-8 decoding/encoding and code-point class lookup
 * over the generated tables of unicode_data.c.
 */
#include "unicode.h"

#define LATIN1_END 0x100u

unsigned bn_cpt_flags(uint32_t cp)
{
    if (cp < LATIN1_END) return bn_unicode_latin1_flags[cp];
    size_t lo = 0, hi = bn_unicode_n_ranges; /* binary search of [lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const bn_unicode_range *r = &bn_unicode_ranges[mid];
        if (cp < r->first)
            hi = mid;
        else if (cp > r->last)
            lo = mid + 1;
        else
            return r->flags;
    }
    return 0;
}

static int is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

size_t bn_utf8_seq_len(unsigned char lead)
{
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 0;
}

size_t bn_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    static const uint8_t lead_bits[BN_UTF8_MAX + 1] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    static const uint32_t min_value[BN_UTF8_MAX + 1] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = bn_utf8_seq_len(s[0]);
    if (!n || len < n) return 0;
    uint32_t v = s[0] & lead_bits[n];
    for (size_t i = 1; i < n; i++) {
        if (!is_continuation(s[i])) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and values past U+10FFFF are invalid */
    if (v < min_value[n] || v > BN_CPT_MAX || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

size_t bn_utf8_encode(uint32_t cp, char out[BN_UTF8_MAX])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
