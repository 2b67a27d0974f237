/*
 * text: see text.h.  One decoder serves every escaper, so "what counts as
 * a character" cannot differ between formats.
 */
#include "text.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0], v;
    size_t n, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07;
    else
        goto invalid;
    if (len < n)
        goto invalid;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            goto invalid;
        v = (v << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        goto invalid;
    *cp = v;
    return n;
invalid:
    *cp = 0xfffd;
    return 1;
}

static bool is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

static void put_utf8(FILE *out, unsigned cp)
{
    if (cp < 0x80) {
        fputc((int)cp, out);
    } else if (cp < 0x800) {
        fputc((int)(0xc0 | (cp >> 6)), out);
        fputc((int)(0x80 | (cp & 0x3f)), out);
    } else if (cp < 0x10000) {
        fputc((int)(0xe0 | (cp >> 12)), out);
        fputc((int)(0x80 | ((cp >> 6) & 0x3f)), out);
        fputc((int)(0x80 | (cp & 0x3f)), out);
    } else {
        fputc((int)(0xf0 | (cp >> 18)), out);
        fputc((int)(0x80 | ((cp >> 12) & 0x3f)), out);
        fputc((int)(0x80 | ((cp >> 6) & 0x3f)), out);
        fputc((int)(0x80 | (cp & 0x3f)), out);
    }
}

void text_json_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    fputc('"', out);
    while (i < len) {
        unsigned cp;
        size_t n = utf8_decode(p + i, len - i, &cp);

        if (cp == '"' || cp == '\\') {
            fputc('\\', out);
            fputc((int)cp, out);
        } else if (cp == '\n') {
            fputs("\\n", out);
        } else if (cp == '\t') {
            fputs("\\t", out);
        } else if (cp == '\r') {
            fputs("\\r", out);
        } else if (is_control(cp)) {
            fprintf(out, "\\u%04x", cp);
        } else if (n == 1 && cp == 0xfffd) {
            fputs("\\ufffd", out);
        } else {
            fwrite(p + i, 1, n, out);
        }
        i += n;
    }
    fputc('"', out);
}

void text_html(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned cp;
        size_t n = utf8_decode(p + i, len - i, &cp);

        switch (cp) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\t': fputs("&#9;", out); break;
        default:
            if (is_control(cp))
                put_utf8(out, 0xfffd);
            else if (n == 1 && cp == 0xfffd)
                put_utf8(out, cp);
            else
                fwrite(p + i, 1, n, out);
        }
        i += n;
    }
}

void text_csv_field(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    bool quote = false;
    size_t i;

    for (i = 0; i < len; i++)
        if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n')
            quote = true;
    if (quote)
        fputc('"', out);
    i = 0;
    while (i < len) {
        unsigned cp;
        size_t n = utf8_decode(p + i, len - i, &cp);

        if (cp == '"')
            fputs("\"\"", out);
        else if (cp == '\t' || cp == '\r' || cp == '\n')
            fputc((int)cp, out);
        else if (is_control(cp) || (n == 1 && cp == 0xfffd))
            put_utf8(out, 0xfffd);
        else
            fwrite(p + i, 1, n, out);
        i += n;
    }
    if (quote)
        fputc('"', out);
}

void text_number(FILE *out, double v)
{
    char buf[64];
    int prec;

    if (!isfinite(v)) {
        fputs("null", out);
        return;
    }
    /* At least the integer digits, so that 40 is "40", not "4e+01". */
    prec = fabs(v) >= 1 ? (int)floor(log10(fabs(v))) + 1 : 1;
    if (prec > 17)
        prec = 17;
    for (; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

void text_terminal(FILE *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned cp;
        size_t n = utf8_decode(u + i, len - i, &cp);
        bool invalid = cp == 0xFFFD && !(n == 3 && u[i] == 0xef && u[i + 1] == 0xbf && u[i + 2] == 0xbd);
        if (invalid) {
            fprintf(out, "\\x%02x", u[i]);
        } else if (cp == '\n') {
            fputs("\\n", out);
        } else if (cp == '\r') {
            fputs("\\r", out);
        } else if ((cp < 0x20 && cp != '\t') || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            fprintf(out, cp < 0x100 ? "\\x%02x" : "\\u%04x", cp);
        } else {
            fwrite(u + i, 1, n, out);
        }
        i += n;
    }
}
