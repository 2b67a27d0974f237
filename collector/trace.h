/*
 * trace: the records of the trace format (README.rst, "The trace format"), on top of the writer.
 *
 * It owns what a process section needs: the header, the definitions of
 * files, code objects and threads (kept in memory so that a fork child can
 * define them again in its own section), and the events. It knows nothing
 * of Python: code objects are opaque keys, names arrive as bytes. The
 * interpreter side (trace_hook.c) and the unit tests both drive it.
 *
 * Not thread-safe by itself: the agent calls it with the GIL held.
 */
#ifndef MEMPROF_TRACE_H
#define MEMPROF_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "writer.h"

/* The header's "version": 2 delta-encodes the events (README.rst, "The
 * trace format"). */
#define TRACE_VERSION 2

enum trace_kind { TRACE_LINE = 0, TRACE_CALL = 1, TRACE_RETURN = 2 };

/* MEMPROF_AGGREGATE: write events, tables (agg.h) instead, or both (to
 * check that the two give the same report). */
enum trace_aggregate { AGGREGATE_OFF, AGGREGATE_ONLY, AGGREGATE_BOTH };
/* Before any code is defined. */
void trace_set_aggregate(enum trace_aggregate mode);
/* From now on, memory_profiler's tables (agg.h) are kept in the process as
 * well, for the tables printed inside it (memory_profiler's imported
 * @profile, the Python package); any mode. */
void trace_keep_tables(void);
/* Whether events carry the peak RSS of their interval (peak.h); false if
 * asked for and the kernel does not allow it. */
bool trace_set_peak(bool on);

/* What the header says about the process, filled in by the caller when a
 * section starts (after fork, too). */
struct trace_section_info {
    void (*write_argv)(writer_t *w);    /* a JSON array */
    const char *python;                 /* "3.11.7" */
};

struct trace_code {
    const void *key;        /* the code object */
    uint32_t file;          /* trace_file_define() id */
    const char *name, *qualname;
    int firstlineno;
    uint32_t top;           /* 0: this code is registered itself */
    int first, last;        /* source block of a registered code, 0 if unknown */
};

/* Starts recording to fd, or, when path names the regular file fd is open
 * on, through a mapping of it (writer.h). The header comes with the first
 * record. */
bool trace_init(int fd, const char *path, const struct trace_section_info *info);
/* Whether any code was defined (else the trace holds a header only). */
bool trace_defined_anything(void);
/* Bytes this process put in the trace file so far. */
uint64_t trace_bytes_written(void);
/* Bytes of the trace's own mapping counted in the RSS now. */
int64_t trace_own_resident(void);
bool trace_recording(void);
/* Whether the trace is written through its mapping (which holds no
 * descriptor between regions). */
bool trace_mapped(void);
/* Writes the header now (normally it comes with the first record). */
bool trace_start_section(void);
/* Nanoseconds since the section's t0 (CLOCK_MONOTONIC). */
uint64_t trace_clock(void);
/* Stops recording for good (after a warning). */
void trace_stop(void);

/* Defines a source file once per path; returns its id (0 when off). */
uint32_t trace_file_define(const char *path, size_t path_len);
/* Defines a code object; returns its id (0 when off or out of memory).
 * Strings are copied. */
uint32_t trace_code_define(const struct trace_code *c);
/* The id of a defined code object, or 0. The per-event lookup. */
uint32_t trace_code_lookup(const void *key);
/* The id of the registered code whose table code id belongs to. */
uint32_t trace_code_top(uint32_t id);

/* The name of the running thread, asked for once per thread and section. */
typedef void (*trace_thread_namer)(char *buf, size_t size, unsigned long *ident);
void trace_set_thread_namer(trace_thread_namer namer);

/* One event of the running thread. */
void trace_event(enum trace_kind kind, uint32_t code, int line);

/* The program's resident bytes now (the trace's own mapping left out), or
 * -1: for the ends of a named span. */
int64_t trace_program_rss(void);
/* A named span the program marked (profile.timestamp): its start and end
 * (trace_clock() ns) and the RSS at each, DEPTH the spans open around it.
 * One {"k":"timestamp"} record, written when the span ends. */
void trace_timestamp(const char *name, size_t len, uint64_t start, int64_t rss_start,
                     uint64_t end, int64_t rss_end, int depth);

/* Hands buffered records to the kernel. */
void trace_flush(void);
/* Writes the end record and flushes; recording stops, and the trace file
 * loses the padding after this process's last record (writer_release()). */
void trace_end(void);
/* Before exec: the same for the padding, recording goes on (if exec fails,
 * in a new region). */
void trace_release(void);
/* Around fork: flush in the parent before; in the child, start a new
 * section (new pid, definitions again, RSS reopened). */
void trace_before_fork(void);
void trace_after_fork_child(void);

#endif
