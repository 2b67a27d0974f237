/*
 * diag: everything memprof-report says on stderr, and the exit status it
 * implies.  Messages are counted by severity here, in one place, so that the
 * exit status is a plain function of what was reported and cannot drift from
 * the messages the user saw.
 */
#ifndef MEMPROF_REPORT_DIAG_H
#define MEMPROF_REPORT_DIAG_H

#include <stdio.h>

/* Exit statuses, documented in --help and memprof-report(1). */
enum {
    EXIT_TABLES = 0,    /* tables printed, warnings allowed */
    EXIT_MALFORMED = 1, /* some records were malformed and skipped */
    EXIT_TROUBLE = 2,   /* usage error, or a trace could not be read */
};

typedef struct diag {
    FILE *stream;
    unsigned long malformed; /* records skipped */
    unsigned long refused;   /* traces not opened, refused or cut off */
    unsigned long warnings;
} diag_t;

void diag_init(diag_t *d, FILE *stream);

/* A record that was skipped: "memprof-report: FILE:LINE: message". */
void diag_malformed(diag_t *d, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A trace (or the whole run) that could not be used; line 0 omits it. */
void diag_refused(diag_t *d, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "memprof-report: warning: message"; does not change the exit status. */
void diag_warning(diag_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int diag_exit_status(const diag_t *d);

#endif
