/*
 * rank: see rank.h.  qsort is not stable, so the table order is part of the
 * key (the position in the list before sorting), after the measure and
 * whether it was measured at all.
 */
#include "rank.h"

#include <stdlib.h>

typedef struct keyed {
    line_ref_t ref;
    size_t order;
    double key;
    bool measured;      /* the key was measured, not 0 for want of a figure */
} keyed_t;

const char *rank_measure(rank_by_t by)
{
    return by == RANK_PEAK ? "peak" : "exact-mode increment";
}

bool rank_key(const func_table_t *t, const line_row_t *row, rank_by_t by, double *key)
{
    if (by == RANK_PEAK) {
        *key = (double)row->peak / 1048576.0;
        return row->has_peak;
    }
    *key = row->cost;
    return t->has_cost;
}

double rank_table_top(const func_table_t *t, rank_by_t by)
{
    double top = 0, key;
    int line;

    if (!t->measured)
        return 0;
    for (line = t->min_seen; line <= t->max_seen; line++) {
        const line_row_t *row = table_row(t, line);
        if (row && rank_key(t, row, by, &key) && key > top)
            top = key;
    }
    return top;
}

static int costlier_first(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    /* A decorator row's cost is 0 because nothing was measured before it:
     * among lines that cost 0 it comes after those measured at 0. */
    if (x->measured != y->measured)
        return x->measured ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int rank_lines(const model_t *m, rank_by_t by, line_ref_t **out, size_t *n)
{
    keyed_t *k = NULL;
    size_t count = 0, cap = 0, i, j;
    double key;
    int line;

    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        for (j = 0; j < s->ntables; j++) {
            const func_table_t *t = &s->tables[j];
            if (!t->measured)
                continue;
            for (line = t->min_seen; line <= t->max_seen; line++) {
                const line_row_t *row = table_row(t, line);
                if (!row || !rank_key(t, row, by, &key))
                    continue;
                if (count == cap) {
                    keyed_t *p;
                    cap = cap ? cap * 2 : 64;
                    p = realloc(k, cap * sizeof *p);
                    if (!p) {
                        free(k);
                        return -1;
                    }
                    k = p;
                }
                k[count] = (keyed_t){.ref = {s, t, line, row}, .order = count, .key = key,
                                     .measured = by == RANK_PEAK || row->costed};
                count++;
            }
        }
    }
    if (count)
        qsort(k, count, sizeof *k, costlier_first);
    *out = malloc((count ? count : 1) * sizeof **out);
    if (!*out) {
        free(k);
        return -1;
    }
    for (i = 0; i < count; i++)
        (*out)[i] = k[i].ref;
    *n = count;
    free(k);
    return 0;
}
