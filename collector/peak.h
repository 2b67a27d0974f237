/*
 * peak: the highest resident set size reached between two events, so that
 * a line which allocates 500 MiB and frees it before the next line shows
 * it (memory_profiler cannot).
 *
 * Linux keeps a per-process high-water mark. After each event the mark is
 * brought down to the current RSS (writing 5 to /proc/self/clear_refs)
 * when RSS has fallen below it, so at the next event the mark is exactly
 * the peak of the interval in between. Reading it costs a getrusage()
 * (~0.7 us); the reset (~0.5 us) is paid only after memory was released.
 */
#ifndef MEMPROF_PEAK_H
#define MEMPROF_PEAK_H

#include <stdbool.h>
#include <stdint.h>

/* Opens what is needed; false if the kernel does not allow it. */
bool peak_open(void);
/* The peak since the previous call, given the RSS now. */
int64_t peak_take(int64_t rss_now);
/* The same when the interval's peak is known from elsewhere (the RSS
 * source's own records): the mark is only brought down to rss_now if
 * memory was released, so that it can stand in for an interval the source
 * cannot tell. */
int64_t peak_take_known(int64_t rss_now, int64_t peak);
/* In a fork child: /proc/self must be opened again. */
void peak_after_fork_child(void);

#endif
