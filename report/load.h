/*
 * load: reads one trace into the model, reporting what is wrong with it.
 *
 * This is the per-event loop, so it takes the fast path itself: a line that
 * record_parse_event_fast() accepts goes straight to the current section
 * without touching jansson or allocating.
 */
#ifndef MEMPROF_REPORT_LOAD_H
#define MEMPROF_REPORT_LOAD_H

#include "diag.h"
#include "model.h"
#include "progress.h"

/* Outcome of load_trace(), besides what it reported through DIAG. */
enum {
    LOAD_OK = 0,            /* read (malformed records may have been skipped) */
    LOAD_REFUSED = -1,      /* could not be opened, or refused: nothing kept */
    LOAD_NO_MEMORY = -2,    /* out of memory: stop */
};

/* PATH must outlive M: sections keep it as their trace name. */
int load_trace(model_t *m, const char *path, diag_t *d);

/* The same, showing progress through P (may be NULL). */
int load_trace_progress(model_t *m, const char *path, diag_t *d, progress_t *p);

#endif
