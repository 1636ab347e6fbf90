/* JSON strings (RFC 8259): URLs and messages come from input files and
 * servers, so any byte may appear; the output must stay valid JSON and valid
 * UTF-8 whatever they hold. */
#include "tools/gust/internal.h"

/* Length of the valid UTF-8 sequence at `s` (1 to 4), or 0 if the bytes there
 * are not one: overlong forms, surrogates and code points above U+10FFFF are
 * refused, as RFC 3629 requires. */
static int utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    int len;
    unsigned long cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* a NUL stops here too */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void json_write_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    putc('"', out);
    while (*p != '\0') {
        unsigned char c = *p;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\u%04x", c);
            } else if (c >= 0x80) {
                int len = utf8_len(p);
                if (len == 0) {
                    fputs("\\ufffd", out);
                } else {
                    fwrite(p, 1, (size_t)len, out);
                    p += len - 1;
                }
            } else {
                putc(c, out);
            }
        }
        p++;
    }
    putc('"', out);
}
