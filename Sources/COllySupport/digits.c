// Integer parsing for the data-record fast path: timestamps have 19 digits.
#include "olly_support.h"
#include <string.h>

/* All 8 bytes are '0'..'9': high nibbles 3, and adding 6 does not carry into them. */
static inline int eight_digits(uint64_t v) {
    return ((v & 0xF0F0F0F0F0F0F0F0ull) |
            (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) == 0x3333333333333333ull;
}

/* Value of 8 digits loaded little-endian (first digit in the low byte): combine
 * neighbours into 2-digit, then 4-digit, then 8-digit groups. */
static inline uint64_t eight_value(uint64_t v) {
    v -= 0x3030303030303030ull;
    v = (v * 10) + (v >> 8);                               /* pairs in bytes 0,2,4,6 */
    v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
    return v;
}

size_t olly_parse_digits(const uint8_t *p, size_t n, uint64_t *out) {
    uint64_t v = 0;
    size_t i = 0;
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (!eight_digits(w)) break;
        v = v * 100000000ull + eight_value(w);
        i += 8;
        if (i > 19) { *out = v; return i; }
    }
    while (i < n && (uint8_t)(p[i] - '0') <= 9) {
        v = v * 10 + (uint64_t)(p[i] - '0');
        i++;
        if (i > 19) break;
    }
    *out = v;
    return i;
}
