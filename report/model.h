/*
 * model: what the traces say, aggregated: process sections, each holding its
 * function tables (in registration order) and the definitions its events
 * refer to.  Renderers read only this, so a new output format never has to
 * know about parsing, and the reader never about output.
 *
 * Ids are local to a section and small, so files, codes and threads live in
 * arrays indexed by id; the per-event lookup is two array indexings.
 */
#ifndef MEMPROF_REPORT_MODEL_H
#define MEMPROF_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "record.h"
#include "table.h"
#include "timeline.h"

/* Largest file, code or thread id accepted; bounds the id arrays. */
#define MODEL_MAX_ID (1 << 20)

/* Return codes of the section_* functions besides 0. */
enum {
    MODEL_BAD_RECORD = -1,  /* the record is wrong; the error says why */
    MODEL_NO_MEMORY = -2,
};

typedef struct file_def {
    bool defined;
    char *path;             /* co_filename, shown in "Filename:" */
    char *abspath;          /* or NULL */
    char *path_hex;         /* the exact bytes of a non-UTF-8 path, hex, or NULL */
    char *open_path;        /* path's exact bytes, for opening; or NULL */
    bool has_stat;
    long long size, mtime_ns;
} file_def_t;

typedef struct code_def {
    bool defined;
    bool registered;        /* a decorated code: top is itself */
    size_t table;           /* index in section.tables of its top's table */
} code_def_t;

/* Per thread, as memory_profiler keeps per profiler: the current line of
 * each active frame, and the line recorded last.  Also, per table, how
 * deep the thread is in calls of the registered code and since when, for
 * the spans. */
typedef struct thread_state {
    int *stack;
    long long *rss_before;  /* --mode exact: RSS when each frame's line began */
    size_t depth, cap;
    char *name;             /* from the thread record, or NULL */
    long long tid;          /* the kernel's id (native_id), 0 if not given */
    int prev_line;          /* 0 = none yet */
    unsigned *span_depth;   /* indexed by table */
    long long *span_start;  /* ns, valid where span_depth > 0 */
    size_t nspan;
} thread_state_t;

/* A profiled function running: from the outermost entry of a thread into
 * the registered code to its exit (one span per generator resumption). */
typedef struct span {
    size_t table;           /* index in section.tables */
    long long thread;       /* the section's thread id */
    long long start, end;   /* ns since the section's t0 */
    bool open;              /* the trace ended before it returned */
} span_t;

/* A span the program named (profile.timestamp). */
typedef struct named_span {
    char *name;
    long long start, end;       /* ns since the section's t0 */
    long long rss_start, rss_end;   /* bytes, -1 if unknown */
    int depth;                  /* spans open around it */
} named_span_t;

/* How events become numbers (memprof-report --mode, --threads). */
typedef struct model_options {
    bool exact;             /* charge RSS after minus before, per frame */
    bool split_threads;     /* a table per function and thread */
} model_options_t;

typedef struct section {
    const char *trace;      /* the trace file it came from */
    model_options_t opt;
    long long pid, ppid;
    char *command;          /* argv joined by spaces */
    char **argv;            /* the header's argv, ARGC strings */
    size_t argc;
    char *script;           /* argv[0], or NULL */
    char *cwd;              /* or NULL */
    bool ended;             /* saw the "end" record */
    long snapshot_line;     /* line of its first table snapshot, 0 if none */
    bool has_t0;
    long long t0_ns;        /* the header's CLOCK_MONOTONIC origin */
    int version;            /* the header's trace format version */

    file_def_t *files;
    size_t nfiles;
    code_def_t *codes;
    size_t ncodes;
    func_table_t *tables;   /* registration order */
    size_t ntables, tables_cap;
    thread_state_t *threads;
    size_t nthreads;
    size_t thread;          /* current thread id (0 until a thread record) */

    /* Memory over time: the events' RSS and the samples' RSS and heap. */
    timeline_t *event_rss, *sample_rss, *sample_heap;
    long long t_first, t_last;  /* ns; valid if event_rss or sample_rss count */
    long long peak_rss, peak_t; /* the largest RSS or peak seen, and when */
    /* The line running when the peak was reached, if an event says:
     * index + 1 in tables (0: unknown, e.g. outside profiled code). */
    size_t peak_table;
    int peak_line;
    bool peak_pending;          /* a sample set the peak; the next event's
                                   line was running then */
    span_t *spans;              /* ordered by start after model_finish() */
    size_t nspans, spans_cap;
    named_span_t *timestamps;   /* in the order they ended */
    size_t ntimestamps, timestamps_cap;
} section_t;

/* The launcher's samples of the command's whole process tree, taken from
 * outside (memprof --include-children, --multiprocess). */
#define TREE_MAX_PROCS 64       /* processes with a curve of their own */

typedef struct tree_proc {
    long long pid, ppid;
    char *command;              /* or NULL if never named */
    timeline_t *rss;
} tree_proc_t;

typedef struct process_tree {
    const char *trace;          /* the trace it came from */
    long long root, interval_ns;
    bool per_process;
    long long t0_ns;            /* CLOCK_MONOTONIC of its first sample */
    long long t_last;           /* ns since t0_ns */
    timeline_t *total;
    tree_proc_t *procs;
    size_t nprocs;
    size_t dropped;             /* processes past TREE_MAX_PROCS */
} process_tree_t;

typedef struct model {
    section_t **sections;   /* order of their headers */
    size_t nsections, cap;
    model_options_t opt;    /* for the sections added from now on */
    process_tree_t *tree;   /* or NULL; the first trace's that has one */
} model_t;

void model_init(model_t *m);
void model_destroy(model_t *m);

/* Opens a section for a header; returns it, or NULL if out of memory.
 * ARGV is the header's array of strings (may be NULL). */
section_t *model_add_section(model_t *m, const char *trace, long long pid, long long ppid,
                             json_t *argv, const char *cwd);

/* Closes the spans still open at the end of each section (at its last
 * time) and orders them; call once every trace is loaded. */
int model_finish(model_t *m);

/* Whether some row of some table has a Peak / heap figures. */
bool model_has_peak(const model_t *m);
bool model_has_heap(const model_t *m);

/* The first section with a table known from snapshots only (a trace of
 * MEMPROF_AGGREGATE=1): without its events, no line's cost is known, so
 * --mode exact and the rankings (rank.h) cannot be computed.  NULL if every
 * table came from events.  Its trace and snapshot_line say where. */
const section_t *model_events_missing(const model_t *m);

/* The sections grouped as processes of one pool: the children of one
 * parent running one command line, in one trace.  GROUP_OF[i] (nsections
 * entries) gets the group of section i, groups numbered in the order of
 * their first section; with SPLIT every section is a group of its own.
 * Returns the number of groups. */
size_t model_process_groups(const model_t *m, bool split, size_t *group_of);

/* Applies a tree, tree_sample or tree_proc record of trace TRACE (it
 * belongs to the run, not to a section).  Returns 0 or MODEL_NO_MEMORY. */
int model_tree_record(model_t *m, const char *trace, const record_t *rec);

/* Drops the sections from index N on (a trace that was refused). */
void model_truncate(model_t *m, size_t n);

/* The section_* functions return 0, MODEL_BAD_RECORD with ERR filled in,
 * or MODEL_NO_MEMORY. */
int section_define_file(section_t *s, const record_t *rec, record_error_t *err);
int section_define_code(section_t *s, const record_t *rec, record_error_t *err);
/* NAME (may be NULL) is the thread's name, given on its first record. */
int section_switch_thread(section_t *s, long long id, const char *name, record_error_t *err);

/* Keeps a timestamp record's named span. */
int section_add_timestamp(section_t *s, const record_t *rec, record_error_t *err);

/* Applies one event to the current thread's state and its code's table. */
int section_apply_event(section_t *s, const event_t *ev, record_error_t *err);

/* Replaces the table of a snapshot record's registered code. */
int section_apply_table(section_t *s, const record_t *rec, record_error_t *err);

/* The section's memory curve (samples if it has any, else its events), at
 * most 2 * TIMELINE_BUCKETS points; also HEAP's curve if it has one (else 0
 * points).  Returns the number of points. */
size_t section_rss_points(const section_t *s, timeline_point_t *out);

const file_def_t *section_file(const section_t *s, long long id);

/* The name a table shows for a file: its path, except that the script run
 * by a relative path is shown by that path, as `python -m memory_profiler
 * script.py` shows it (the interpreter itself records it absolute since
 * 3.9). */
const char *section_display_path(const section_t *s, const file_def_t *f);

#endif
