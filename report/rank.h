/*
 * rank: which lines cost the most, for every view that orders or shades
 * lines (--top in text, JSON and CSV, the HTML page's top lines and its
 * shading, --diff's largest growth).  One measure for all of them, here:
 *
 *   RANK_COST  the exact-mode Increment (table.h, line_row.cost): the RSS
 *              after the line minus the RSS before it, in its own frame,
 *              summed over its occurrences.  Never the compat Increment,
 *              whose decorator row is an absolute level (memory_profiler
 *              issue #234) and whose loop rows can be artefacts of the rule.
 *   RANK_PEAK  the Peak: the highest RSS reached while the line ran (only
 *              where the trace has peaks), a level, for "where was the
 *              process at its highest".
 *
 * The cost comes from events only: a table known from snapshots
 * (MEMPROF_AGGREGATE=1) cannot be ranked; see model_events_missing().  The
 * references point into the model, which must outlive the list.
 */
#ifndef MEMPROF_REPORT_RANK_H
#define MEMPROF_REPORT_RANK_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

typedef enum rank_by { RANK_COST, RANK_PEAK } rank_by_t;

/* What the views say they rank by: "exact-mode increment", "peak". */
const char *rank_measure(rank_by_t by);

typedef struct line_ref {
    const section_t *s;
    const func_table_t *t;
    int line;
    const line_row_t *row;
} line_ref_t;

/* Whether ROW of T can be ranked BY, and its key (MiB) in *KEY. */
bool rank_key(const func_table_t *t, const line_row_t *row, rank_by_t by, double *key);

/* Every measured line that has a key, most expensive first; among equal
 * keys, lines whose cost was measured come before those that only have no
 * cost (a decorator row: nothing precedes a call's first line), then table
 * order.  Returns 0 (free *OUT) or -1 if out of memory. */
int rank_lines(const model_t *m, rank_by_t by, line_ref_t **out, size_t *n);

/* The largest key BY among T's rows, 0 if none is above 0 (for shading). */
double rank_table_top(const func_table_t *t, rank_by_t by);

#endif
