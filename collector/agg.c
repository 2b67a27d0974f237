/* agg: see agg.h. The rule is table/mp_table.c's, the one the report
 * applies to events (README.rst, "How the numbers are computed"). */
#include "agg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp_table.h"
#include "trace.h"

/* Frames deeper than this per thread are counted but their lines not
 * kept; their events are charged to the deepest kept line. */
#define STACK_MAX 512

struct table {
    int first, last;
    agg_row_t *rows;       /* last - first + 1 */
    bool dirty;
};

static struct table *tables;    /* index: the registered code's id */
static uint32_t ntables;

struct thread_state {
    uint32_t generation;
    int prev;               /* P: the line charged last, 0 for none */
    int depth;
    int stack[STACK_MAX];
};

static uint32_t generation = 1;
/* Only a pointer in TLS: the agent may be loaded with dlopen (`import
 * memprof`), where a library's static TLS must stay small. The state is
 * allocated at a thread's first event and freed when the thread ends. */
static __thread struct thread_state *tls_state __attribute__((tls_model("initial-exec")));
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void make_key(void)
{
    (void)pthread_key_create(&state_key, free);
}

static struct thread_state *thread_state(void)
{
    if (!tls_state) {
        pthread_once(&state_once, make_key);
        tls_state = calloc(1, sizeof *tls_state);
        if (tls_state)
            (void)pthread_setspecific(state_key, tls_state);
    }
    return tls_state;
}

bool agg_define_table(uint32_t top, int first, int last)
{
    if (first <= 0 || last < first)
        return false;
    if (top >= ntables) {
        uint32_t n = top + 16;
        struct table *t = realloc(tables, n * sizeof *t);
        if (!t)
            return false;
        memset(t + ntables, 0, (n - ntables) * sizeof *t);
        tables = t;
        ntables = n;
    }
    struct table *t = &tables[top];
    if (t->rows)
        return true;
    t->rows = calloc((size_t)(last - first + 1), sizeof *t->rows);
    if (!t->rows)
        return false;
    t->first = first;
    t->last = last;
    return true;
}

static agg_row_t *row_of(struct table *t, int line)
{
    if (line < t->first || line > t->last)
        return NULL;
    return &t->rows[line - t->first];
}

/* memory_profiler's CodeMap.trace: charge line with the sample. */
static void charge(struct table *t, int line, int prev, int64_t rss)
{
    agg_row_t *r = row_of(t, line);
    if (!r)
        return;
    double mem = (double)rss / 1048576.0;
    agg_row_t *p = prev ? row_of(t, prev) : NULL;
    double base = mp_base(p && p->count, p ? p->max : 0);
    mp_charge(&r->inc, &r->max, &r->count, mem, mem - base);
    t->dirty = true;
}

void agg_event(int kind, uint32_t top, int line, int64_t rss)
{
    struct thread_state *ts = thread_state();
    if (!ts)
        return;
    if (ts->generation != generation) {
        ts->generation = generation;
        ts->prev = 0;
        ts->depth = 0;
    }
    struct table *t = top < ntables && tables[top].rows ? &tables[top] : NULL;
    int *top_line = ts->depth > 0 ? &ts->stack[(ts->depth > STACK_MAX ? STACK_MAX : ts->depth) - 1] : NULL;
    int charged;
    switch (kind) {
    case TRACE_CALL:
        if (ts->depth < STACK_MAX)
            ts->stack[ts->depth] = line;
        ts->depth++;
        return;
    case TRACE_LINE:
        charged = top_line ? *top_line : line;
        if (t)
            charge(t, charged, ts->prev, rss);
        ts->prev = charged;
        if (top_line && ts->depth <= STACK_MAX)
            *top_line = line;
        return;
    case TRACE_RETURN:
        charged = top_line ? *top_line : line;
        if (ts->depth > 0)
            ts->depth--;
        if (t)
            charge(t, charged, ts->prev, rss);
        ts->prev = charged;
        return;
    }
}

const agg_row_t *agg_table_rows(uint32_t top, int *first, int *last)
{
    if (top >= ntables || !tables[top].rows)
        return NULL;
    *first = tables[top].first;
    *last = tables[top].last;
    return tables[top].rows;
}

void agg_reset_table(uint32_t top)
{
    struct thread_state *ts = thread_state();
    if (ts)
        ts->prev = 0;
    if (top < ntables && tables[top].rows)
        memset(tables[top].rows, 0,
               (size_t)(tables[top].last - tables[top].first + 1) * sizeof *tables[top].rows);
}

void agg_write_snapshot(writer_t *w)
{
    for (uint32_t id = 1; id < ntables; id++) {
        struct table *t = &tables[id];
        if (!t->rows || !t->dirty)
            continue;
        t->dirty = false;
        writer_cstr(w, "{\"k\":\"table\",\"top\":");
        writer_int(w, id);
        writer_cstr(w, ",\"rows\":[");
        bool first = true;
        for (int line = t->first; line <= t->last; line++) {
            const agg_row_t *r = &t->rows[line - t->first];
            if (!r->count)
                continue;
            /* 17 significant digits read back as the same double. */
            char buf[128];
            snprintf(buf, sizeof buf, "%s[%d,%llu,%lld,%.17g]", first ? "" : ",", line,
                     r->count, (long long)(r->max * 1048576.0), r->inc);
            writer_cstr(w, buf);
            first = false;
        }
        writer_cstr(w, "]}\n");
        writer_end_record(w);
    }
}

void agg_after_fork_child(void)
{
    generation++;
    for (uint32_t id = 0; id < ntables; id++)
        if (tables[id].rows) {
            memset(tables[id].rows, 0,
                   (size_t)(tables[id].last - tables[id].first + 1) * sizeof *tables[id].rows);
            tables[id].dirty = false;
        }
}
