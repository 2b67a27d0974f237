/*
 * text: escaping for the output formats, in one place.
 *
 * Everything a renderer prints from a trace or a source file (paths,
 * function names, argv, line contents) is bytes that may be invalid UTF-8 or
 * hold control characters; JSON, CSV, HTML and SVG each need it escaped
 * differently, and none may carry a raw control character or a broken
 * UTF-8 sequence.  Invalid bytes become U+FFFD.
 */
#ifndef MEMPROF_REPORT_TEXT_H
#define MEMPROF_REPORT_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Decodes one UTF-8 character of S (LEN > 0 bytes): returns its length and
 * sets *CP, or returns 1 with *CP = 0xFFFD for an invalid byte. */
size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp);

/* A JSON string literal, quotes included. */
void text_json_string(FILE *out, const char *s, size_t len);

/* HTML/XML text or attribute content: & < > " ' escaped, control
 * characters (tab included) as numeric references or U+FFFD. */
void text_html(FILE *out, const char *s, size_t len);

/* Valid UTF-8 without control characters other than tab (for CSV), with
 * the RFC 4180 quoting when the field needs it. */
void text_csv_field(FILE *out, const char *s, size_t len);

/* For a terminal: valid UTF-8 passes, and every control character (C0
 * except tab, DEL, C1) and invalid byte is shown as a visible escape
 * (\x1b, \n...), so nothing from a trace or a source file can move the
 * cursor or change colours. */
void text_terminal(FILE *out, const char *s, size_t len);
static inline void fputs_safe(FILE *out, const char *s)
{
    text_terminal(out, s, __builtin_strlen(s));
}

/* The shortest "%.Ng" that reads back as V (as Python's repr); "null" when V
 * is not finite, for JSON. */
void text_number(FILE *out, double v);

#endif
