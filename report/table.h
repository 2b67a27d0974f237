/*
 * table: one function's table, the rows memory_profiler prints for a
 * registered (decorated) function, and the rule that fills them.
 *
 * Rows are kept in an array indexed by line - base, not a hash: a function's
 * lines are a short dense range, and the lookup sits on the per-event path.
 * The array grows in either direction when an event names a line outside it.
 */
#ifndef MEMPROF_REPORT_TABLE_H
#define MEMPROF_REPORT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

/* How far apart two lines of one table may be; bounds the row array a
 * corrupt line number could make us allocate. */
#define TABLE_MAX_SPAN (1 << 22)

typedef struct line_row {
    double inc;                 /* running sum of (sample - base) */
    double max;                 /* largest sample, 0 before the first */
    /* What the line cost, whatever --mode prints: the summed RSS after it
     * minus the RSS before it, in its own frame (the exact-mode Increment).
     * The views rank by it (rank.h); valid where the table has_cost. */
    double cost;
    bool costed;                /* some charge measured a cost (a call's
                                   first line has no RSS before it) */
    unsigned long long count;   /* occurrences; 0 = never measured */
    /* From the optional event fields, charged like the RSS (see README). */
    bool has_peak, has_heap;
    long long peak;             /* bytes: the largest RSS peak */
    unsigned long long alloc, freed;    /* bytes: sums */
    long long heap_peak;        /* bytes: the largest */
} line_row_t;

typedef struct func_table {
    long long code_id;          /* the registered code, in its section */
    long long file_id;
    char *name;                 /* qualname or name, for later renderers */
    bool has_lines;             /* the code record gave the source block */
    int first_line, last_line;  /* valid if has_lines */
    int base;                   /* line number of rows[0] */
    size_t nrows;
    line_row_t *rows;
    bool measured;              /* some row has count > 0 */
    int min_seen, max_seen;     /* valid if measured */
    bool has_peak, has_heap;    /* some row has them */
    double highest;             /* the largest Mem usage of any row */
    bool has_cost;              /* the rows' cost came from events */
    bool has_events;            /* events of its code were seen (in split
                                   mode, on the function's table too) */
    bool snapshot;              /* a table snapshot gave it rows */
    /* --threads split: the table of one thread of a registered function. */
    long long thread;           /* -1 for a function's table of all threads */
    char *thread_name;          /* or NULL */
    long long thread_tid;       /* its native id, 0 if the trace did not say */
    size_t *by_thread;          /* on a function's table: index + 1 of its
                                   per-thread tables in section.tables */
    size_t nby_thread;
} func_table_t;

/* Returns 0, or -1 if out of memory.  NAME is copied (may be NULL). */
int table_init(func_table_t *t, long long code_id, long long file_id, const char *name,
               bool has_lines, int first_line, int last_line);
void table_destroy(func_table_t *t);

/* The row of LINE if it was measured, else NULL. */
const line_row_t *table_row(const func_table_t *t, int line);

/*
 * memory_profiler's record(): charges MEM (MiB) to LINE, taking as base the
 * largest sample of PREV_LINE in this same table if PREV_LINE is nonzero and
 * was measured here, else 0.  Returns 0, -1 if out of memory, or -2 if LINE
 * is too far from the table's other lines (TABLE_MAX_SPAN).
 */
int table_record_line(func_table_t *t, int line, int prev_line, double mem);

/* --mode exact: charges LINE with DELTA MiB (the RSS after it minus the RSS
 * before it, in its own frame); Mem usage and Occurrences as above. */
int table_record_delta(func_table_t *t, int line, double mem, double delta);

/* Adds COST MiB to the cost of LINE, which table_record_line() or
 * table_record_delta() has just charged with an RSS before it known. */
void table_add_cost(func_table_t *t, int line, double cost);

/*
 * Whether ROW's Increment is an artefact of memory_profiler's rule: it
 * differs from what the line cost by more than the table's highest Mem
 * usage.  One charge can differ by at most that (the sample and the base
 * both lie between 0 and it), so only a sum over many occurrences crosses
 * it: a line charged again and again against a previous line's maximum
 * that the memory has left (README, "How the numbers are computed").
 * False where the table has no cost (snapshots only) or in --mode exact.
 */
bool table_is_artefact(const func_table_t *t, const line_row_t *row);

/* The largest Mem usage of any row, 0 for an unmeasured table. */
double table_highest(const func_table_t *t);

/*
 * Charges an event's optional fields to LINE, which table_record_line() has
 * just charged: NFIELDS 6 gives PEAK, 9 also ALLOC, FREED and HEAP_PEAK.
 */
void table_charge_extra(func_table_t *t, int line, int nfields, long long peak, long long alloc,
                        long long freed, long long heap_peak);

/* Forgets every row (a snapshot replaces the table) but the costs, which
 * only events give. */
void table_clear(func_table_t *t);

/*
 * Sets LINE's row as a snapshot gives it: COUNT occurrences, MAX_MIB, INC,
 * and NEXTRA (0, 1 or 4) of peak, alloc, freed, heap_peak.  Returns as
 * table_record_line().
 */
int table_set_row(func_table_t *t, int line, unsigned long long count, double max_mib, double inc,
                  int nextra, const long long *extra);

/* The lines the table prints: the source block, or else the measured span. */
void table_line_range(const func_table_t *t, int *first, int *last);

/* Adds FROM's rows to INTO's (the same function in another process of a
 * pool): occurrences, increments and costs summed, Mem usage and peaks the
 * larger.  Returns 0, -1 if out of memory, -2 as table_record_line. */
int table_merge(func_table_t *into, const func_table_t *from);

#endif
