/*
 * rss_tp: the resident set size from the kernel's own RSS counters, as the
 * kmem:rss_stat tracepoint reports every change of them, without a system
 * call per reading.
 *
 * One perf event per CPU (pid 0, inherited by the threads created later,
 * and one per CPU for each thread that already runs, redirected into the
 * same ring) writes a record per change into a ring buffer mapped once.
 * A record carries the counter's new value, not a change: reading the RSS
 * folds the records that arrived since the last reading into the last
 * value of each counter (file, anon, shmem; the latest by time wins when
 * two CPUs report the same counter) and adds them up. Nothing changed:
 * one load per ring.
 *
 * Only changes made while one of the process's threads runs are seen
 * (not kswapd's reclaim, khugepaged, KSM, another process's
 * process_madvise): rss.c compares with statm now and then and takes
 * statm's figures again when they disagree.
 *
 * A CPU's event needs no descriptor once its ring is mapped (the mapping
 * holds the event's file); a thread that already ran when the events were
 * opened gets one event per CPU, redirected into that CPU's ring, which
 * the kernel does not let us map: those descriptors are kept (1000 and
 * up). /proc/self/status, for the counters' values at the start and after
 * lost records, is opened for that reading only.
 *
 * Needs root or CAP_PERFMON (raw samples of a tracepoint) and tracefs
 * mounted (the tracepoint's id and record layout); rss_tp_open() says
 * false otherwise, silently. The rings' pages are not counted in the RSS.
 */
#ifndef MEMPROF_RSS_TP_H
#define MEMPROF_RSS_TP_H

#include <stdbool.h>
#include <stdint.h>

/* Whether rss_tp_open() can be expected to work: the tracepoint's layout
 * is known and the process may take raw samples (capabilities or
 * perf_event_paranoid). Opens no perf event. */
bool rss_tp_probe(void);
/* Opens the events and maps the rings; takes the counters' values from
 * /proc/self/status. Threads that run already get events of their own.
 * False if the kernel does not allow it. */
bool rss_tp_open(void);
/* Closes the events. In a fork child, the rings are not mapped (the kernel
 * does not copy them), only the threads' descriptors are closed. */
void rss_tp_close(bool fork_child);
/* Resident bytes after folding in the new records, or -1 if another thread
 * is folding, or if records were lost, a ring overflowed or a record was
 * not understood: then -1 until rss_tp_rebase(). */
int64_t rss_tp_read(void);
/* rss_tp_read() for the sampler's thread: waits while an event folds,
 * takes the counters again if records were lost; -1 if the events are not
 * open or it could not get its turn. */
int64_t rss_tp_sample(void);
/* The highest resident bytes the records went through since the previous
 * call (or the opening), at least the RSS the last reading gave; -1 if
 * records of that interval were lost (then only the kernel's high-water
 * mark can tell). The next interval starts at the last reading. */
int64_t rss_tp_peak_take(void);
/* The counters taken again from /proc/self/status, the rings emptied.
 * Returns the resident bytes or -1. */
int64_t rss_tp_rebase(void);

#endif
