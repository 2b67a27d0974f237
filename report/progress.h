/*
 * progress: "reading TRACE: 42%" on a terminal while a long trace loads.
 *
 * Shown only when the stream is a terminal and the read has already taken
 * half a second, redrawn at most 10 times a second, and erased at the end,
 * so that short runs, pipes and the golden tests never see it.
 */
#ifndef MEMPROF_REPORT_PROGRESS_H
#define MEMPROF_REPORT_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

typedef struct progress {
    FILE *stream;
    bool enabled;
    bool shown;             /* something is on the line, to erase */
    struct timespec start, last;
} progress_t;

/* ENABLED is normally isatty(fileno(STREAM)). */
void progress_init(progress_t *p, FILE *stream, bool enabled);

/* DONE of TOTAL bytes of WHAT read (TOTAL 0 = unknown size). */
void progress_update(progress_t *p, const char *what, unsigned long long done,
                     unsigned long long total);

/* Erases the line, if anything was shown. */
void progress_end(progress_t *p);

#endif
