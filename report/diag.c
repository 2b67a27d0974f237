/*
 * diag: formats and counts messages; see diag.h.  The stream is a field so
 * that unit tests can capture messages instead of cluttering their output.
 */
#include "diag.h"

#include <stdarg.h>

void diag_init(diag_t *d, FILE *stream)
{
    d->stream = stream;
    d->malformed = 0;
    d->refused = 0;
    d->warnings = 0;
}

static void vsay(diag_t *d, const char *file, long line, const char *fmt, va_list ap)
{
    fputs("memprof-report: ", d->stream);
    if (file && line > 0)
        fprintf(d->stream, "%s:%ld: ", file, line);
    else if (file)
        fprintf(d->stream, "%s: ", file);
    vfprintf(d->stream, fmt, ap);
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
    vfprintf(d->stream, fmt, ap);
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
