/*
 * sampler: memory over time. A background thread reads the resident set
 * size every interval, from the start of the process to its end, whether
 * or not profiled code runs, and writes [3, rss, t] records.
 *
 * It has its own small buffer and its own write() calls (each a whole
 * chunk led by a pid record), so the per-line path never waits for it; a
 * mutex guards that buffer against the exit and fork paths only.
 */
#ifndef MEMPROF_SAMPLER_H
#define MEMPROF_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

/* Parses MEMPROF_INTERVAL ("10ms", "250us", "0.5s", "off"); 0 means off.
 * Returns false for a value it cannot use. */
bool sampler_parse_interval(const char *text, uint64_t *ns);

/* Starts sampling to fd every interval_ns. The trace section must be open. */
bool sampler_start(int fd, uint64_t interval_ns);
/* Takes a last sample, writes what is buffered, and stops (exit, _exit). */
void sampler_finish(void);
/* Around fork: hold the buffer in the parent; in the child, forget the
 * parent's thread and buffer. */
void sampler_before_fork(void);
void sampler_after_fork_parent(void);
void sampler_after_fork_child(void);
/* In a fork child that goes on running Python (not one about to exec):
 * sample it too, in its own section. */
void sampler_resume(void);

#endif
