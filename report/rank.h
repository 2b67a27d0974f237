/*
 * rank: the lines of every table in one list, ordered by cost, for --top,
 * the HTML page's "top lines" and CSV with --top.  The references point
 * into the model, which must outlive the list.
 */
#ifndef MEMPROF_REPORT_RANK_H
#define MEMPROF_REPORT_RANK_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

typedef struct line_ref {
    const section_t *s;
    const func_table_t *t;
    int line;
    const line_row_t *row;
} line_ref_t;

/* Every measured line (with BY_PEAK, every line that has a Peak), most
 * expensive first: by Increment, or by Peak; ties keep table order.
 * Returns 0 (free *OUT) or -1 if out of memory. */
int rank_lines(const model_t *m, bool by_peak, line_ref_t **out, size_t *n);

#endif
