/*
 * rss: the resident set size, read with one pread() of /proc/self/statm on
 * a descriptor opened once. The descriptor must be opened again in a fork
 * child: an inherited one goes on reading the parent.
 */
#ifndef MEMPROF_RSS_H
#define MEMPROF_RSS_H

#include <stdbool.h>
#include <stdint.h>

bool rss_open(void);
void rss_close(void);
/* Resident bytes now, or -1 if they cannot be read. */
int64_t rss_now(void);

#endif
