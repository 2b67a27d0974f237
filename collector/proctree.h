/*
 * proctree: a process and its descendants, read from /proc.
 *
 * What memory_usage(include_children=True) sums in the agent (inproc.c)
 * and what the launcher samples from outside with --include-children
 * (launcher/tree.c): no Python, no allocation on the way but a scan's
 * scratch, usable from a program that is not the profiled one.
 */
#ifndef MEMPROF_PROCTREE_H
#define MEMPROF_PROCTREE_H

#include <stddef.h>
#include <sys/types.h>

/* A small /proc file read whole into BUF (NUL-terminated); its length,
 * or -1. */
ssize_t proctree_read(const char *path, char *buf, size_t size);

/* Resident bytes of PID (0: this process), or -1 if it is gone. */
long long proctree_rss(int pid);

/* The parent pid of PID, or -1. */
int proctree_parent(int pid);

/* The descendants of ROOT (not ROOT itself), at most MAX, parents before
 * their children. Read from /proc/PID/task/TID/children where the kernel
 * has it, else from every /proc/PID/stat. Returns how many. */
int proctree_descendants(int root, int *out, int max);

/* PID's command line, its arguments joined by spaces, cut to SIZE - 1
 * bytes; "" if it is gone or has none (a zombie, a kernel thread). */
void proctree_command(int pid, char *buf, size_t size);

#endif
