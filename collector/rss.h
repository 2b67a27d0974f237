/*
 * rss: the resident set size, read with one pread() of /proc/self/statm on
 * a descriptor opened once, at the first event (a process that profiles
 * nothing holds no descriptor: a program listing its fds sees none). The
 * descriptor must be opened again in a fork child: an inherited one goes on
 * reading the parent.
 */
#ifndef MEMPROF_RSS_H
#define MEMPROF_RSS_H

#include <stdbool.h>
#include <stdint.h>

bool rss_open(void);
void rss_close(void);
/* Resident bytes now, or -1 if they cannot be read. The per-event path:
 * opens the descriptor the first time. */
int64_t rss_now(void);
/* The same for the sampler's thread: through the descriptor if the events
 * opened it, else through one opened and closed for this reading. */
int64_t rss_sample(void);

#endif
