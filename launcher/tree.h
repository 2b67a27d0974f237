/*
 * tree: the launcher's view of the command's whole process tree, sampled
 * from outside (--include-children, --multiprocess), as mprof run
 * --include-children samples it: children that are not Python, or that run
 * without the agent, count too.
 *
 * While the command runs, every interval the resident set size of the
 * command and of each of its descendants (/proc/PID/task/TID/children,
 * /proc/PID/statm) goes into a scratch file as trace records; once the
 * command has ended they are appended to the trace (README, "The trace
 * format": tree, tree_sample, tree_proc), where memprof-report's --plot
 * draws the total and, per process, one line each.
 */
#ifndef MEMPROF_LAUNCHER_TREE_H
#define MEMPROF_LAUNCHER_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct tree_sampler {
    FILE *records;          /* scratch: the records so far */
    uint64_t interval_ns;
    bool per_process;       /* --multiprocess: each process's RSS and command */
    size_t samples;
    /* The processes named so far, with the command they were named by. */
    struct tree_named {
        int pid;
        char command[160];
    } *named;
    size_t nnamed, named_cap;
} tree_sampler_t;

/* Prepares a sampler; false (with errno) if no scratch file could be made. */
bool tree_init(tree_sampler_t *t, uint64_t interval_ns, bool per_process);
/* Samples ROOT's tree until ROOT ends; returns its waitpid() status. */
int tree_wait(tree_sampler_t *t, pid_t root);
/* Appends the records to TRACE, creating it (with no other records) if
 * CREATE and it does not exist. Returns false, saying why on stderr, if
 * it could not. */
bool tree_append(tree_sampler_t *t, const char *trace, bool create);
void tree_destroy(tree_sampler_t *t);

#endif
