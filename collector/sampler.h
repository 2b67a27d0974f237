/*
 * sampler: memory over time. A background thread reads the resident set
 * size every interval, from the start of the process to its end, whether
 * or not profiled code runs, and writes [3, rss, t] records.
 *
 * It has its own small buffer and its own write() calls (each a whole
 * chunk led by a pid record), so the per-line path never waits for it; a
 * mutex guards that buffer against the exit and fork paths only.
 *
 * The thread never outlives the program's own threads and is not there
 * when the program forks: it is ended before each fork (and started again
 * after it), and when the thread that runs the program ends without exit()
 * (the one thread of a child forked from a thread other than the main one).
 */
#ifndef MEMPROF_SAMPLER_H
#define MEMPROF_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

/* Parses MEMPROF_INTERVAL ("10ms", "1500us", "0.5s", "20", "off"); 0 means off.
 * Returns false for a value it cannot use. */
bool sampler_parse_interval(const char *text, uint64_t *ns);

/* Starts sampling every interval_ns to fd, or to the file at path (opened
 * for each write only). The trace section must be open. */
bool sampler_start(int fd, const char *path, uint64_t interval_ns);
/* Takes a last sample, writes what is buffered, and stops (exit, _exit). */
void sampler_finish(void);
/* Takes a last sample, writes what is buffered, and ends the thread for
 * good, waiting until it is gone (the thread that runs the program ends:
 * the agent's thread must not keep the process alive). */
void sampler_stop(void);
/* Before fork: ends the thread (the program forks a process with one
 * thread, and CPython 3.12+ sees no thread of ours when it counts them
 * after the fork); with wait_for_kernel, until the kernel no longer counts
 * it either. sampler_unpause() starts it again in the parent. */
void sampler_pause(bool wait_for_kernel);
bool sampler_paused(void);
void sampler_unpause(void);
/* Whether the thread runs (not paused around a fork). */
bool sampler_running(void);
/* In the child: forget the parent's thread and buffer. */
void sampler_after_fork_child(void);
/* In a fork child that goes on running Python (not one about to exec):
 * sample it too, in its own section. */
void sampler_resume(void);

#endif
