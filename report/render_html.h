/*
 * render_html: one self-contained page (inline CSS and SVG, nothing
 * fetched): the memory-over-time plot, the top lines by exact-mode
 * increment and by peak, and every table with its rows shaded by their
 * exact-mode increment (rank.h: what each line cost, not the compat
 * Increment the table shows).  A trace of snapshots only gets a note
 * instead of the ranking and no shading.
 * Everything from the trace and the sources is HTML-escaped.
 */
#ifndef MEMPROF_REPORT_RENDER_HTML_H
#define MEMPROF_REPORT_RENDER_HTML_H

#include <stdio.h>

#include "model.h"
#include "render_table.h"
#include "source.h"

/* How many top lines the page lists without --top. */
#define HTML_TOP_DEFAULT 10

/* Returns 0, or -1 if out of memory. */
int render_html(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o);

#endif
