/*
 * diag: formats and counts messages; see diag.h.  The stream is a field so
 * that unit tests can capture messages instead of cluttering their output.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>

#include "text.h"

void diag_init(diag_t *d, FILE *stream)
{
    d->stream = stream;
    d->malformed = 0;
    d->refused = 0;
    d->warnings = 0;
}

/* Messages quote the trace (a file name, jansson's "near 'X'"), so they
 * are written as the terminal-safe text the tables use: a control byte or
 * broken UTF-8 from a hostile trace shows as an escape, never raw. */
static void put_escaped(FILE *out, const char *fmt, va_list ap)
{
    char small[1024];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(again);
        return;
    }
    if ((size_t)n < sizeof small) {
        text_terminal(out, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            text_terminal(out, big, (size_t)n);
            free(big);
        }
    }
    va_end(again);
}

static void put_escaped_args(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_escaped(out, fmt, ap);
    va_end(ap);
}

static void vsay(diag_t *d, const char *file, long line, const char *fmt, va_list ap)
{
    fputs("memprof-report: ", d->stream);
    if (file && line > 0)
        put_escaped_args(d->stream, "%s:%ld: ", file, line);
    else if (file)
        put_escaped_args(d->stream, "%s: ", file);
    put_escaped(d->stream, fmt, ap);
    fputc('\n', d->stream);
}

void diag_malformed(diag_t *d, const char *file, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(d, file, line, fmt, ap);
    va_end(ap);
    d->malformed++;
}

void diag_refused(diag_t *d, const char *file, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(d, file, line, fmt, ap);
    va_end(ap);
    d->refused++;
}

void diag_warning(diag_t *d, const char *fmt, ...)
{
    va_list ap;
    fputs("memprof-report: warning: ", d->stream);
    va_start(ap, fmt);
    put_escaped(d->stream, fmt, ap);
    va_end(ap);
    fputc('\n', d->stream);
    d->warnings++;
}

int diag_exit_status(const diag_t *d)
{
    if (d->refused)
        return EXIT_TROUBLE;
    if (d->malformed)
        return EXIT_MALFORMED;
    return EXIT_TABLES;
}
