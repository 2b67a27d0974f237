/*
 * compact: removes the padding a finished run left in its trace.
 *
 * The agent gives a process's padding back at exit when its region is the
 * file's end (collector/writer.c); a region that other processes' regions
 * followed keeps it. Once the run is over the launcher rewrites the trace
 * without padding records, into a new file renamed over the old one, so
 * that a reader never sees half of it. Nothing is done while any process
 * still maps the file (a child that outlived the run writes on through its
 * mapping), and the agent's appenders take the same lock and open the path
 * again if it was renamed meanwhile.
 */
#ifndef MEMPROF_COMPACT_H
#define MEMPROF_COMPACT_H

#include <stdbool.h>

/* 0: compacted, or there was nothing to do (*dropped says which); else an
 * errno value (EBUSY: a process still maps the trace). */
int trace_compact(const char *path, bool *dropped);

#endif
