/*
 * diff: two traces of the same program compared line by line (--diff OLD
 * NEW), to catch memory regressions.  Functions are matched by file (as the
 * table shows it) and qualified name, rows by line number; for each line
 * measured in either trace it gives both Mem usage and Increment and their
 * deltas, and says whether the line grew, shrank, stayed the same (within
 * half a unit of the printed precision), is new or is gone.
 */
#ifndef MEMPROF_REPORT_DIFF_H
#define MEMPROF_REPORT_DIFF_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"
#include "render_table.h"
#include "source.h"

/* The version of the diff's JSON layout, its "memprof_diff" key. */
#define DIFF_JSON_VERSION 1

/* Writes the comparison as text, or as JSON if JSON.  Returns 0, or -1 if
 * out of memory. */
int render_diff(FILE *out, const model_t *old, const model_t *new_, const char *old_name,
                const char *new_name, source_cache_t *sources, const render_options_t *o,
                bool json);

#endif
