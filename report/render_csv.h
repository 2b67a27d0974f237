/*
 * render_csv: one row per (process, function, line) with a header row,
 * RFC 4180 (CRLF line ends, fields quoted when they hold a comma, a quote or
 * a line break).  Numbers are unrounded; cells of lines never measured, or
 * of figures the trace does not have, are empty.  With --top N, only the N
 * most expensive lines, most expensive first.
 */
#ifndef MEMPROF_REPORT_RENDER_CSV_H
#define MEMPROF_REPORT_RENDER_CSV_H

#include <stdio.h>

#include "model.h"
#include "render_table.h"
#include "source.h"

/* Returns 0, or -1 if out of memory. */
int render_csv(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o);

#endif
