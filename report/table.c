/*
 * table: one function's rows, filled by memory_profiler 0.61's rule
 * (CodeMap.trace), which table/mp_table.c implements for the agent and the
 * report alike.
 */
#include "table.h"
#include "mp_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int table_init(func_table_t *t, long long code_id, long long file_id, const char *name,
               bool has_lines, int first_line, int last_line)
{
    memset(t, 0, sizeof *t);
    t->code_id = code_id;
    t->file_id = file_id;
    if (name && !(t->name = strdup(name)))
        return -1;
    t->has_lines = has_lines;
    t->first_line = first_line;
    t->last_line = last_line;
    t->base = has_lines ? first_line : 0;
    t->thread = -1;
    return 0;
}

void table_destroy(func_table_t *t)
{
    free(t->name);
    free(t->rows);
    free(t->thread_name);
    free(t->by_thread);
    t->name = NULL;
    t->rows = NULL;
    t->thread_name = NULL;
    t->by_thread = NULL;
    t->nrows = 0;
    t->nby_thread = 0;
}

const line_row_t *table_row(const func_table_t *t, int line)
{
    long long i = (long long)line - t->base;

    if (i < 0 || (size_t)i >= t->nrows || t->rows[i].count == 0)
        return NULL;
    return &t->rows[i];
}

/* Makes rows cover LINE; returns its row, or NULL (*why = -1 out of memory,
 * -2 span too large). */
static line_row_t *row_for(func_table_t *t, int line, int *why)
{
    long long i = (long long)line - t->base;
    long long lo, hi, slack;
    line_row_t *rows;

    if (i >= 0 && (size_t)i < t->nrows)
        return &t->rows[i];
    if (t->nrows == 0) {
        lo = hi = line;
        if (t->has_lines && line >= t->first_line && line <= t->last_line) {
            lo = t->first_line;
            hi = t->last_line;
        }
    } else {
        lo = line < t->base ? line : t->base;
        hi = (long long)t->base + (long long)t->nrows - 1;
        if (line > hi)
            hi = line;
        if (hi - lo + 1 > TABLE_MAX_SPAN) {
            *why = -2;
            return NULL;
        }
        /* Leave slack on the side being extended, so that lines arriving
         * one by one past an edge cost amortised O(1). */
        slack = (hi - lo + 1) / 2;
        if (line > t->base)
            hi = hi + slack < lo + TABLE_MAX_SPAN ? hi + slack : lo + TABLE_MAX_SPAN - 1;
        else
            lo = lo - slack > hi - TABLE_MAX_SPAN ? lo - slack : hi - TABLE_MAX_SPAN + 1;
        if (lo < 0)
            lo = 0;
    }
    if (hi - lo + 1 > TABLE_MAX_SPAN) {
        *why = -2;
        return NULL;
    }
    rows = calloc((size_t)(hi - lo + 1), sizeof *rows);
    if (!rows) {
        *why = -1;
        return NULL;
    }
    if (t->nrows)
        memcpy(rows + (t->base - lo), t->rows, t->nrows * sizeof *rows);
    free(t->rows);
    t->rows = rows;
    t->nrows = (size_t)(hi - lo + 1);
    t->base = (int)lo;
    return &t->rows[line - lo];
}

int table_record_line(func_table_t *t, int line, int prev_line, double mem)
{
    const line_row_t *prev = prev_line ? table_row(t, prev_line) : NULL;
    double base = mp_base(prev != NULL, prev ? prev->max : 0);

    return table_record_delta(t, line, mem, mem - base);
}

int table_record_delta(func_table_t *t, int line, double mem, double delta)
{
    line_row_t *row;
    int why = 0;

    row = row_for(t, line, &why);
    if (!row)
        return why;
    mp_charge(&row->inc, &row->max, &row->count, mem, delta);
    if (mem > t->highest)
        t->highest = mem;
    if (!t->measured || line < t->min_seen)
        t->min_seen = line;
    if (!t->measured || line > t->max_seen)
        t->max_seen = line;
    t->measured = true;
    return 0;
}

void table_charge_extra(func_table_t *t, int line, int nfields, long long peak, long long alloc,
                        long long freed, long long heap_peak)
{
    long long i = (long long)line - t->base;
    line_row_t *row;

    if (nfields < 6 || i < 0 || (size_t)i >= t->nrows)
        return;
    row = &t->rows[i];
    if (!row->has_peak || peak > row->peak)
        row->peak = peak;
    row->has_peak = t->has_peak = true;
    if (nfields < 9)
        return;
    row->alloc += (unsigned long long)alloc;
    row->freed += (unsigned long long)freed;
    if (!row->has_heap || heap_peak > row->heap_peak)
        row->heap_peak = heap_peak;
    row->has_heap = t->has_heap = true;
}

void table_add_cost(func_table_t *t, int line, double cost)
{
    long long i = (long long)line - t->base;

    if (i < 0 || (size_t)i >= t->nrows)
        return;
    t->rows[i].cost += cost;
    t->rows[i].costed = t->has_cost = true;
}

double table_highest(const func_table_t *t)
{
    return t->highest;
}

bool table_is_artefact(const func_table_t *t, const line_row_t *row)
{
    return t->has_cost && fabs(row->inc - row->cost) > table_highest(t);
}

void table_clear(func_table_t *t)
{
    size_t i;

    for (i = 0; i < t->nrows; i++) {
        line_row_t keep = t->rows[i];
        memset(&t->rows[i], 0, sizeof t->rows[i]);
        t->rows[i].cost = keep.cost;
        t->rows[i].costed = keep.costed;
    }
    t->measured = t->has_peak = t->has_heap = false;
    t->highest = 0;
}

int table_set_row(func_table_t *t, int line, unsigned long long count, double max_mib, double inc,
                  int nextra, const long long *extra)
{
    line_row_t *row;
    int why = 0;

    if (count == 0)
        return 0;
    t->snapshot = true;
    row = row_for(t, line, &why);
    if (!row)
        return why;
    row->count = count;
    row->max = max_mib;
    if (max_mib > t->highest)
        t->highest = max_mib;
    row->inc = inc;
    if (!t->measured || line < t->min_seen)
        t->min_seen = line;
    if (!t->measured || line > t->max_seen)
        t->max_seen = line;
    t->measured = true;
    if (nextra >= 1)
        table_charge_extra(t, line, nextra == 1 ? 6 : 9, extra[0], nextra == 1 ? 0 : extra[1],
                           nextra == 1 ? 0 : extra[2], nextra == 1 ? 0 : extra[3]);
    return 0;
}

void table_line_range(const func_table_t *t, int *first, int *last)
{
    if (t->has_lines) {
        *first = t->first_line;
        *last = t->last_line;
    } else {
        *first = t->min_seen;
        *last = t->max_seen;
    }
}
