/*
 * rss: the resident set size, from one of two sources.
 *
 * statm: one pread() of /proc/self/statm on a descriptor opened once, at
 * the first event (a process that profiles nothing holds no descriptor: a
 * program listing its fds sees none). The descriptor must be opened again
 * in a fork child: an inherited one goes on reading the parent.
 *
 * tracepoint (rss_tp.h): the kernel's own counters as the kmem:rss_stat
 * tracepoint reports their changes, with no system call per reading where
 * the kernel permits it (root, tracefs mounted); statm is read again at
 * most every rss_set_recheck() interval, and its figures taken again when
 * they disagree, when records were lost or not understood. No descriptor
 * is kept for it: statm is opened for each of those readings, and the
 * sampler's thread reads the rings too.
 *
 * MEMPROF_RSS chooses: auto (the tracepoint where it can be had, else
 * statm), tracepoint (the same; the header says which was had), statm, and
 * check (for tests: both at every event, statm's recorded, disagreements
 * counted).
 */
#ifndef MEMPROF_RSS_H
#define MEMPROF_RSS_H

#include <stdbool.h>
#include <stdint.h>

enum rss_source { RSS_STATM, RSS_TRACEPOINT, RSS_CHECK };

/* MEMPROF_RSS's value (NULL or empty: auto); false if not one of the
 * documented ones. */
bool rss_configure(const char *mode);
/* statm is read again at least this often on the tracepoint (10 ms if
 * never set). */
void rss_set_recheck(uint64_t interval_ns);
/* The source events will use: decided the first time from tracefs and
 * the process's capabilities (rss_tp_probe(): no perf event is opened and
 * no descriptor kept before the first event). */
enum rss_source rss_source(void);
const char *rss_source_name(enum rss_source s);

bool rss_open(void);
void rss_close(void);
/* Resident bytes now, or -1 if they cannot be read; now_ns is the event's
 * CLOCK_MONOTONIC time. The per-event path: opens the source the first
 * time. */
int64_t rss_now(uint64_t now_ns);
/* On the tracepoint: the highest resident bytes since the previous call,
 * from the same records as rss_now(); -1 elsewhere, or if records of the
 * interval were lost (peak.h's high-water mark can tell then). */
int64_t rss_peak_take(void);
/* The source the events actually got (the tracepoint can fail to open
 * where rss_source() expected it to: then statm). */
enum rss_source rss_source_used(void);
/* Check mode: events compared, disagreements, lost records. */
void rss_check_counts(uint64_t *events, uint64_t *disagreements, uint64_t *lost);
/* The same as rss_now() for the sampler's thread: the tracepoint's rings
 * once the events opened them, else statm, through the descriptor if the
 * events opened one, else through one opened and closed for this reading. */
int64_t rss_sample(void);
/* In a fork child: the parent's source is the parent's. */
void rss_after_fork_child(void);

#endif
