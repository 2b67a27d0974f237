/*
 * source_block: see source_block.h.
 *
 * memory_profiler takes a table's rows from inspect.getsourcelines, which
 * reads the file through linecache, finds the starting line (findsource)
 * and feeds the tokens from there to a small state machine (BlockFinder)
 * until it decides the block has ended. Importing inspect would put a dozen
 * modules into the program's sys.modules and run the program's import
 * hooks, so the same decisions are made here: the text is normalised as
 * linecache reads it (universal newlines, a newline added at the end), a
 * tokenizer produces just what the block finder looks at (names, "@", "(",
 * ")", comments with their column, NL/NEWLINE, INDENT/DEDENT), and the
 * finder's rules are those of the running version. Runs once per
 * registered function, never on the per-line path: it allocates freely.
 */
#include "source_block.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum tok_type { T_OTHER, T_NAME, T_OP, T_COMMENT, T_NL, T_NEWLINE, T_INDENT, T_DEDENT };

struct tok {
    enum tok_type type;
    const char *text;
    size_t len;
    int row;            /* 1-based, in the text fed to the finder */
    int col;            /* of the start */
    int endcol;         /* of the end (INDENT: the indentation's width) */
};

/* ---- the block finder (inspect.BlockFinder's rules) ---- */

struct finder {
    int minor;
    int indent;
    bool islambda, started, passline, indecorator, decoratorhasargs;
    int last;
    int body_col0;      /* -1: not seen yet */
};

static bool tok_is(const struct tok *t, const char *text)
{
    size_t n = strlen(text);
    return t->len == n && memcmp(t->text, text, n) == 0;
}

/* Feeds one token; true when the block has ended. */
static bool finder_eat(struct finder *f, const struct tok *t)
{
    if (!f->started && !f->indecorator) {
        if (tok_is(t, "@")) {
            f->indecorator = true;
        } else if (tok_is(t, "def") || tok_is(t, "class") || tok_is(t, "lambda")) {
            if (tok_is(t, "lambda"))
                f->islambda = true;
            f->started = true;
        }
        f->passline = true;
        return false;
    }
    /* Up to 3.9 a decorator's arguments are followed by bracket. */
    if (f->minor < 10 && tok_is(t, "(")) {
        if (f->indecorator)
            f->decoratorhasargs = true;
        return false;
    }
    if (f->minor < 10 && tok_is(t, ")")) {
        if (f->indecorator)
            f->indecorator = f->decoratorhasargs = false;
        return false;
    }
    if (t->type == T_NEWLINE) {
        f->passline = false;
        f->last = t->row;
        if (f->islambda)
            return true;
        if (f->indecorator && (f->minor >= 10 || !f->decoratorhasargs))
            f->indecorator = false;
        return false;
    }
    if (f->passline)
        return false;
    if (t->type == T_INDENT) {
        if (f->body_col0 < 0 && f->started)
            f->body_col0 = t->endcol;
        f->indent++;
        f->passline = true;
        return false;
    }
    if (t->type == T_DEDENT)
        return --f->indent <= 0;
    if (t->type == T_COMMENT) {
        if (f->body_col0 >= 0 && t->col >= f->body_col0)
            f->last = t->row;
        return false;
    }
    return f->indent == 0 && t->type != T_NL;
}

/* ---- the tokenizer (what tokenize.generate_tokens yields, reduced) ---- */

#define MAX_INDENTS 128

struct lexer {
    const char *s;
    size_t n;
    size_t pos;
    const size_t *line_start;   /* offsets of rows 1..nrows */
    int nrows;
    int row;                    /* the row of the last token's start */
    int minor;
    int parenlev;
    struct finder *f;
    bool stop;                  /* the finder has its answer */
    bool failed;                /* inspect would raise */
};

static void emit(struct lexer *L, enum tok_type type, size_t start, size_t end)
{
    if (L->stop)
        return;
    while (L->row < L->nrows && L->line_start[L->row] <= start)
        L->row++;
    size_t line = L->line_start[L->row - 1];
    struct tok t = {
        .type = type, .text = L->s + start, .len = end - start, .row = L->row,
        .col = (int)(start - line), .endcol = (int)(end - line),
    };
    if (finder_eat(L->f, &t))
        L->stop = true;
}

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_ident(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static size_t end_of_line(const struct lexer *L, size_t p)
{
    const char *nl = memchr(L->s + p, '\n', L->n - p);
    return nl ? (size_t)(nl - L->s) : L->n;
}

/* The string prefix flags of s[start, end), or -1 if it is not one
 * (r, u, b, f and their valid pairs, any case). */
enum { PREFIX_RAW = 1, PREFIX_F = 2 };

static int string_prefix(const char *s, size_t len)
{
    if (len > 2)
        return -1;
    int flags = 0, letters = 0;
    bool b = false, u = false;
    for (size_t i = 0; i < len; i++) {
        switch (s[i] | 0x20) {
        case 'r': if (flags & PREFIX_RAW) return -1; flags |= PREFIX_RAW; break;
        case 'f': if (flags & PREFIX_F) return -1; flags |= PREFIX_F; break;
        case 'b': if (b) return -1; b = true; break;
        case 'u': if (u) return -1; u = true; break;
        default: return -1;
        }
        letters++;
    }
    if (u && letters > 1)
        return -1;
    if (b && (flags & PREFIX_F))
        return -1;
    return flags;
}

static void lex_token(struct lexer *L);

/* A plain string whose opening quote is at q; returns the offset after it.
 * An unterminated one-line string is a stray quote, as tokenize makes it
 * (an error token); an unterminated triple-quoted one fails. */
static size_t scan_string(struct lexer *L, size_t q)
{
    char quote = L->s[q];
    bool triple = q + 2 < L->n && L->s[q + 1] == quote && L->s[q + 2] == quote;
    size_t p = q + (triple ? 3 : 1);
    while (p < L->n) {
        char c = L->s[p];
        if (c == '\\') {
            p += 2;
        } else if (c == '\n' && !triple) {
            return q + 1;
        } else if (c == quote && (!triple || (p + 2 < L->n && L->s[p + 1] == quote
                                              && L->s[p + 2] == quote))) {
            return p + (triple ? 3 : 1);
        } else {
            p++;
        }
    }
    if (triple)
        L->failed = L->stop = true;
    return L->n;
}

static size_t scan_fstring_text(struct lexer *L, size_t p, char quote, bool triple, bool raw,
                                bool in_spec);

/* 3.12+: the expression part of a replacement field, from just after its
 * "{": tokens as in code, up to the "}" that closes it (a format spec after
 * ":" is text again). Returns the offset after that "}". */
static size_t scan_fstring_field(struct lexer *L, size_t p, char quote, bool triple, bool raw)
{
    int brackets = 0;
    L->pos = p;
    while (!L->stop && L->pos < L->n) {
        char c = L->s[L->pos];
        if (c == ' ' || c == '\t' || c == '\f') {
            L->pos++;
        } else if (c == '\n') {
            emit(L, T_NL, L->pos, L->pos + 1);
            L->pos++;
        } else if (brackets == 0 && c == '}') {
            emit(L, T_OP, L->pos, L->pos + 1);
            return L->pos + 1;
        } else if (brackets == 0 && c == ':') {
            emit(L, T_OP, L->pos, L->pos + 1);
            size_t close = scan_fstring_text(L, L->pos + 1, quote, triple, raw, true);
            if (L->stop)
                return L->n;
            emit(L, T_OP, close, close + 1);
            return close + 1;
        } else if (c == '(' || c == '[' || c == '{') {
            brackets++;
            emit(L, T_OP, L->pos, L->pos + 1);
            L->pos++;
        } else if (c == ')' || c == ']' || c == '}') {
            brackets--;
            emit(L, T_OP, L->pos, L->pos + 1);
            L->pos++;
        } else {
            lex_token(L);
        }
    }
    L->failed = L->stop = true;
    return L->n;
}

/* 3.12+: an f-string's text from p, up to its closing quotes (returns the
 * offset after them) or, in a format spec, up to the "}" that ends the
 * field (returns its offset). */
static size_t scan_fstring_text(struct lexer *L, size_t p, char quote, bool triple, bool raw,
                                bool in_spec)
{
    while (!L->stop && p < L->n) {
        char c = L->s[p];
        char next = p + 1 < L->n ? L->s[p + 1] : 0;
        if (c == quote && (!triple || (next == quote && p + 2 < L->n && L->s[p + 2] == quote))) {
            if (in_spec)
                break;      /* the field is not closed */
            emit(L, T_OTHER, p, p + (triple ? 3 : 1));
            return p + (triple ? 3 : 1);
        }
        if (c == '\n' && !triple)
            break;
        if (c == '\\') {
            if (next == '{' || next == '}') {
                p++;
            } else if (!raw && next == 'N' && p + 2 < L->n && L->s[p + 2] == '{') {
                const char *close = memchr(L->s + p, '}', L->n - p);
                p = close ? (size_t)(close - L->s) + 1 : L->n;
            } else {
                p += 2;
            }
        } else if (c == '{') {
            if (next == '{' && !in_spec) {
                p += 2;
            } else {
                emit(L, T_OP, p, p + 1);
                p = scan_fstring_field(L, p + 1, quote, triple, raw);
            }
        } else if (c == '}') {
            if (in_spec)
                return p;
            if (next != '}')
                break;      /* a single "}" */
            p += 2;
        } else {
            p++;
        }
    }
    L->failed = L->stop = true;
    return L->n;
}

/* One token at L->pos (not at the start of a logical line). */
static void lex_token(struct lexer *L)
{
    const char *s = L->s;
    size_t p = L->pos;
    unsigned char c = (unsigned char)s[p];
    size_t start = p;
    int prefix = 0;

    if (c == ' ' || c == '\t' || c == '\f') {
        L->pos = p + 1;
        return;
    }
    if (c == '#') {
        size_t e = end_of_line(L, p);
        emit(L, T_COMMENT, p, e);
        L->pos = e;
        return;
    }
    if (c == '\\') {
        L->pos = p + (p + 1 < L->n && s[p + 1] == '\n' ? 2 : 1);
        if (L->pos == p + 1)
            emit(L, T_OTHER, p, p + 1);
        return;
    }
    if (is_ident_start(c)) {
        while (p < L->n && is_ident((unsigned char)s[p]))
            p++;
        if (p < L->n && (s[p] == '\'' || s[p] == '"') && (prefix = string_prefix(s + start, p - start)) >= 0) {
            c = (unsigned char)s[p];
        } else {
            emit(L, T_NAME, start, p);
            L->pos = p;
            return;
        }
    }
    if (c == '\'' || c == '"') {
        if ((prefix & PREFIX_F) && L->minor >= 12) {
            bool triple = p + 2 < L->n && s[p + 1] == (char)c && s[p + 2] == (char)c;
            emit(L, T_OTHER, start, p + (triple ? 3 : 1));
            L->pos = scan_fstring_text(L, p + (triple ? 3 : 1), (char)c, triple,
                                       prefix & PREFIX_RAW, false);
            return;
        }
        size_t e = scan_string(L, p);
        emit(L, T_OTHER, start, e);
        L->pos = e;
        return;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && p + 1 < L->n && s[p + 1] >= '0' && s[p + 1] <= '9')) {
        p++;
        while (p < L->n && (is_ident((unsigned char)s[p]) || s[p] == '.'
                            || ((s[p] == '+' || s[p] == '-') && (s[p - 1] | 0x20) == 'e')))
            p++;
        emit(L, T_OTHER, start, p);
        L->pos = p;
        return;
    }
    if (c == '(' || c == '[' || c == '{') {
        L->parenlev++;
    } else if (c == ')' || c == ']' || c == '}') {
        /* An unmatched one (the block started inside brackets): up to 3.11
         * tokenize's count goes below zero, which also stops it seeing
         * indentation; from 3.12 the count stays at zero. */
        if (L->minor < 12 || L->parenlev > 0)
            L->parenlev--;
    }
    size_t e = p + 1;
    if (c == '@' && e < L->n && s[e] == '=')
        e++;
    emit(L, T_OP, start, e);
    L->pos = e;
}

/* tokenize's loop: logical lines, indentation, NL and NEWLINE. */
static void lex(struct lexer *L)
{
    int indents[MAX_INDENTS] = { 0 };
    int nindents = 1;
    bool new_line = true, continued = false;

    while (!L->stop && L->pos < L->n) {
        if (new_line) {
            new_line = false;
            if (L->parenlev == 0 && !continued) {
                size_t p = L->pos;
                int col = 0;
                for (; p < L->n; p++) {
                    char c = L->s[p];
                    if (c == ' ')
                        col++;
                    else if (c == '\t')
                        col = (col / 8 + 1) * 8;
                    else if (c == '\f')
                        col = 0;
                    else
                        break;
                }
                if (p >= L->n)
                    break;
                if (L->s[p] == '#' || L->s[p] == '\n') {
                    /* A comment or blank line: no indentation change. */
                    if (L->s[p] == '#') {
                        size_t e = end_of_line(L, p);
                        emit(L, T_COMMENT, p, e);
                        p = e;
                    }
                    emit(L, T_NL, p, p + 1);
                    L->pos = p + 1;
                    new_line = true;
                    continue;
                }
                if (col > indents[nindents - 1]) {
                    if (nindents == MAX_INDENTS) {
                        L->failed = true;
                        return;
                    }
                    indents[nindents++] = col;
                    emit(L, T_INDENT, L->pos, p);
                }
                while (!L->stop && col < indents[nindents - 1]) {
                    bool known = false;
                    for (int i = 0; i < nindents; i++)
                        known = known || indents[i] == col;
                    if (!known) {
                        /* IndentationError: getblock keeps what it has. */
                        L->stop = true;
                        return;
                    }
                    nindents--;
                    emit(L, T_DEDENT, p, p);
                }
                L->pos = p;
            }
            continued = false;
            continue;
        }
        char c = L->s[L->pos];
        if (c == '\n') {
            emit(L, L->parenlev > 0 ? T_NL : T_NEWLINE, L->pos, L->pos + 1);
            L->pos++;
            new_line = true;
        } else if (c == '\\' && L->pos + 1 < L->n && L->s[L->pos + 1] == '\n') {
            L->pos += 2;
            new_line = continued = true;
        } else {
            lex_token(L);
        }
    }
    if (L->stop)
        return;
    if (L->parenlev != 0 || continued) {
        L->failed = true;       /* EOF in multi-line statement */
        return;
    }
    while (!L->stop && nindents-- > 1)
        emit(L, T_DEDENT, L->n, L->n);
    emit(L, T_OTHER, L->n, L->n);       /* ENDMARKER */
}

/* ---- findsource ---- */

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
           || (c >= 0x1c && c <= 0x1f);
}

static bool starts_with_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) > n && memcmp(p, word, n) == 0 && is_space((unsigned char)p[n]);
}

/* Up to 3.12, findsource walks back from co_firstlineno to the first line
 * matching ^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@). */
static bool definition_line(const char *line, const char *end)
{
    const char *p = line;
    while (p < end && is_space((unsigned char)*p))
        p++;
    if (starts_with_word(p, end, "def") || (p < end && *p == '@'))
        return true;
    if (starts_with_word(p, end, "async")) {
        p += 5;
        while (p < end && is_space((unsigned char)*p))
            p++;
        if (starts_with_word(p, end, "def"))
            return true;
    }
    for (p = line; p + 6 < end; p++) {
        if (memcmp(p, "lambda", 6) != 0)
            continue;
        if (p > line && is_ident((unsigned char)p[-1]))
            continue;
        if (p[6] == ':' || is_space((unsigned char)p[6]))
            return true;
    }
    return false;
}

/* ---- entry ---- */

struct source_text {
    char *text;         /* as linecache.getlines gives it, joined */
    size_t len;
    size_t *starts;     /* offset of each line */
    int nlines;
};

/* "\r\n" and "\r" become "\n", a final newline is added, a UTF-8 BOM is
 * dropped (universal newlines, as linecache reads a file). */
struct source_text *source_text_new(const char *src, size_t len)
{
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
        src += 3;
        len -= 3;
    }
    struct source_text *t = calloc(1, sizeof *t);
    char *text = t ? malloc(len + 2) : NULL;
    if (!text) {
        free(t);
        return NULL;
    }
    size_t n = 0;
    int nlines = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r' || src[i] == '\n') {
            text[n++] = '\n';
            nlines++;
            if (src[i] == '\r' && i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            text[n++] = src[i];
        }
    }
    if (n > 0 && text[n - 1] != '\n') {
        text[n++] = '\n';
        nlines++;
    }
    text[n] = 0;
    t->text = text;
    t->len = n;
    t->nlines = nlines;
    t->starts = malloc(((size_t)nlines + 1) * sizeof *t->starts);
    if (!t->starts) {
        source_text_free(t);
        return NULL;
    }
    t->starts[0] = 0;
    for (size_t i = 0, k = 1; i + 1 < n; i++)
        if (text[i] == '\n')
            t->starts[k++] = i + 1;
    return t;
}

void source_text_free(struct source_text *t)
{
    if (t) {
        free(t->starts);
        free(t->text);
        free(t);
    }
}

bool source_text_block(const struct source_text *t, int firstlineno, bool whole_file, int minor,
                       int *first, int *last)
{
    if (t->nlines == 0)
        return false;
    if (whole_file) {
        *first = 1;
        *last = t->nlines;
        return true;
    }
    int lnum = firstlineno - 1;
    if (lnum < 0 || lnum >= t->nlines)
        return false;
    if (minor < 13) {
        while (lnum > 0) {
            const char *line = t->text + t->starts[lnum];
            const char *end = lnum + 1 < t->nlines ? t->text + t->starts[lnum + 1] : t->text + t->len;
            if (definition_line(line, end))
                break;
            lnum--;
        }
    }
    /* Tokens from line lnum on, their rows counted from there. */
    struct finder f = { .minor = minor, .last = 1, .body_col0 = -1 };
    struct lexer L = {
        .s = t->text, .n = t->len, .pos = t->starts[lnum], .line_start = t->starts + lnum,
        .nrows = t->nlines - lnum, .row = 1, .minor = minor, .f = &f,
    };
    lex(&L);
    if (L.failed)
        return false;
    *first = lnum + 1;
    *last = lnum + (f.last < L.nrows ? f.last : L.nrows);
    return true;
}

bool source_text_line(const struct source_text *t, int line, const char **text, size_t *len)
{
    if (!t || line < 1 || line > t->nlines)
        return false;
    size_t start = t->starts[line - 1];
    size_t end = line < t->nlines ? t->starts[line] : t->len;
    *text = t->text + start;
    *len = end - start;
    return true;
}
