/* RFC 9110 character classes for the oracles, written apart from http/ so
 * that the targets check its grammar rather than repeat it. */
#ifndef GUST_TESTS_FUZZ_GRAMMAR_H
#define GUST_TESTS_FUZZ_GRAMMAR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* tchar: what a method or a field name is made of. */
static inline bool is_tchar(uint8_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* OWS: the optional whitespace around a field value. */
static inline bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* A field value's bytes: HTAB, SP, VCHAR and obs-text. */
static inline bool is_value_byte(uint8_t c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

#endif
