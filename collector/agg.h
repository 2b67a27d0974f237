/*
 * agg: the aggregating mode (MEMPROF_AGGREGATE). Instead of writing every
 * event, the agent applies memory_profiler's table rule itself, exactly as
 * memprof-report does (the same double arithmetic in the same order, per
 * process and thread), and writes {"k":"table"} snapshots from time to
 * time. An hour of a hot profiled loop then makes a trace of kilobytes.
 *
 * Tables are allocated when a function is registered; the per-event path
 * only indexes arrays.
 */
#ifndef MEMPROF_AGG_H
#define MEMPROF_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "writer.h"

/* Gives table `top` (a registered code's id) the rows first..last. */
bool agg_define_table(uint32_t top, int first, int last);
/* One event of the running thread, charged to table `top`. */
void agg_event(int kind, uint32_t top, int line, int64_t rss);
/* A row of a table as memory_profiler keeps it: Occurrences, Mem usage and
 * Increment (MiB); count 0 for a line never measured. */
typedef struct agg_row {
    unsigned long long count;
    double max;
    double inc;
} agg_row_t;
/* The rows of table `top`, lines *first..*last, or NULL if it has none. */
const agg_row_t *agg_table_rows(uint32_t top, int *first, int *last);
/* Forgets table `top`'s rows, and the running thread's previous line: what
 * a new memory_profiler LineProfiler starts from. */
void agg_reset_table(uint32_t top);
/* Writes the tables that changed since the last snapshot. */
void agg_write_snapshot(writer_t *w);
/* A fork child's section starts with empty tables and threads. */
void agg_after_fork_child(void);

#endif
