/*
 * render_json: the tables as JSON, for programs (schema:
 * docs/report-json-schema.json, prose: docs/report-formats.rst).
 *
 * Every number of the text tables is there unrounded, with its unit in its
 * key, plus what the text leaves out: the process (pid, ppid, argv), memory
 * over time (a summary and a curve of at most 2 * TIMELINE_BUCKETS points)
 * and the spans of the profiled functions.  Written as a stream with one
 * line per table row, so that it diffs and greps well.
 */
#ifndef MEMPROF_REPORT_RENDER_JSON_H
#define MEMPROF_REPORT_RENDER_JSON_H

#include <stdio.h>

#include "model.h"
#include "render_table.h"
#include "source.h"

/* The version of the JSON layout, its "memprof_report" key. */
#define REPORT_JSON_VERSION 1

/* Returns 0, or -1 if out of memory. */
int render_json(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o);

/* Shared with the other machine-readable renderers: a function's name
 * (qualname, else name, else "?"). */
const char *table_display_name(const func_table_t *t);

/* Writes "key": number-or-null fields used by JSON renderers. */
void json_key_number(FILE *out, const char *key, double v, int present);

#endif
