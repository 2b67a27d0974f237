/*
 * record: turns one line of a trace into a typed record.
 *
 * Events ([kind,code,line,rss,t] with optionally 1 or 4 more fields, and
 * samples [3,rss,t] or [3,rss,t,heap]; 99% of a trace) go through a small
 * strict integer parser, record_parse_event_fast(), which accepts only the
 * compact form the agent writes.  Everything else, including any event line the fast
 * path does not accept exactly, goes through jansson, so a malformed line
 * always gets jansson's precise message.  Objects keep their json_t alive in
 * the record so that string fields can point into it without copies.
 */
#ifndef MEMPROF_REPORT_RECORD_H
#define MEMPROF_REPORT_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The newest trace format version this reader understands; it reads
 * version 1 too. */
#define TRACE_FORMAT_VERSION 2

typedef enum event_kind {
    EVENT_LINE = 0,
    EVENT_CALL = 1,
    EVENT_RETURN = 2,
    EVENT_SAMPLE = 3,   /* [3,rss,t] or [3,rss,t,heap]: memory over time */
} event_kind_t;

/* How many fields an event carries: the optional ones describe the interval
 * since the same thread's previous event. */
enum {
    EVENT_FIELDS_BASIC = 5,     /* kind, code, line, rss, t */
    EVENT_FIELDS_PEAK = 6,      /* + peak */
    EVENT_FIELDS_HEAP = 9,      /* + peak, alloc, freed, heap_peak */
};

typedef struct event {
    int kind;
    long long code;
    long long line;
    long long rss;
    long long t;
    int nfields;        /* 5, 6 or 9; for a sample 3 or 4 */
    long long peak;             /* bytes; valid if nfields >= 6 */
    long long alloc, freed;     /* bytes; valid if nfields == 9 */
    long long heap_peak;        /* bytes; valid if nfields == 9 */
    long long heap;             /* a sample's live heap; valid if nfields == 4 */
} event_t;

typedef enum record_kind {
    RECORD_EVENT,
    RECORD_HEADER,
    RECORD_PID,
    RECORD_PART,        /* the next line is a piece of a longer record */
    RECORD_END,
    RECORD_FILE,
    RECORD_CODE,
    RECORD_THREAD,
    RECORD_TABLE,       /* a table snapshot of the aggregating mode */
    RECORD_TIMESTAMP,   /* a span the program named (profile.timestamp) */
    RECORD_TREE,        /* the launcher's sampler of the process tree starts */
    RECORD_TREE_SAMPLE, /* its sample of the whole tree */
    RECORD_TREE_PROC,   /* a process of the tree, named */
    RECORD_UNKNOWN,     /* an object whose "k" a later minor version added */
} record_kind_t;

typedef struct record {
    record_kind_t kind;
    json_t *json;       /* owned; strings below point into it */
    union {
        event_t event;
        struct {
            long long version, pid, ppid;
            json_t *argv;           /* array of strings, or NULL */
            const char *cwd;        /* or NULL */
            bool has_t0;
            long long t0_ns;        /* CLOCK_MONOTONIC origin of "t" */
        } header;
        struct {
            long long pid;
        } pid;
        struct {
            long long pid, last;
        } part;
        struct {
            long long id;
            const char *path;
            const char *abspath;    /* or NULL */
            /* The exact bytes of a name that is not UTF-8, in hexadecimal
             * (path and abspath then hold U+FFFD in their place), or NULL. */
            const char *path_hex, *abspath_hex;
            bool has_stat;
            long long size, mtime_ns;
        } file;
        struct {
            long long id, file, top, firstlineno;
            const char *name, *qualname;    /* or NULL */
            bool has_lines;
            long long first_line, last_line;
        } code;
        struct {
            long long id;
            const char *name;       /* or NULL */
            bool has_tid;
            long long tid;          /* the kernel's thread id, if given */
        } thread;
        struct {
            long long top;
            json_t *rows;   /* validated: arrays of 4 to 8 numbers */
        } table;
        struct {
            const char *name;
            long long t0, t1;       /* ns since the section's t0, t0 <= t1 */
            long long rss0, rss1;   /* bytes, -1 if not given */
            long long depth;        /* spans open around it */
        } timestamp;
        struct {
            long long root, interval_ns;
            bool per_process;
        } tree;
        struct {
            long long t_ns;         /* CLOCK_MONOTONIC */
            long long rss;          /* bytes, the whole tree */
            json_t *procs;          /* validated [[pid, rss], ...], or NULL */
        } tree_sample;
        struct {
            long long pid, ppid;
            const char *command;
        } tree_proc;
    } u;
} record_t;

/* What is wrong with a record; column is 0 when it does not apply. */
typedef struct record_error {
    int column;
    char text[240];
} record_error_t;

/* Accepts exactly "[k,c,l,r,t]", "[k,c,l,r,t,p]" or "[k,c,l,r,t,p,a,f,h]"
 * with k in 0..2, and "[3,r,t]" or "[3,r,t,h]", all unsigned integers
 * without leading zeros; anything else returns false for the slow path. */
bool record_parse_event_fast(const char *s, size_t len, event_t *ev);

/* Format 2 writes an event's t and RSS as changes since the previous event
 * of the same chunk (the records up to the next "pid", "part" or header
 * record, which reset it); the chunk's first event carries them whole. */
typedef struct event_base {
    bool set;
    long long t, kib;   /* of the previous event */
} event_base_t;

/* An event line of a format-2 section: [kind,code,line,dt(,drss_kib(,dpeak_kib(,alloc,freed,heap_peak)))]
 * decoded against *BASE (updated), or a sample [3,rss,t(,heap)] as in
 * format 1 (BASE untouched), into EV with format 1's meaning.  Returns 0;
 * -1 with ERR filled in for a well-formed line that is no valid event; -2
 * for a line that is not JSON at all (ERR filled in too). */
int record_parse_event_v2(const char *s, size_t len, event_base_t *base, event_t *ev,
                          record_error_t *err);

/* Parses any record.  Returns 0, or -1 with ERR filled in. */
int record_parse(record_t *rec, const char *s, size_t len, record_error_t *err);

/* Releases what record_parse() kept; safe on a cleared record. */
void record_clear(record_t *rec);

#endif
