/*
 * heap: heap accounting, fed by the interposed allocation functions
 * (preload/interpose_alloc.c) and read by the trace writer.
 *
 * Per thread it counts the bytes allocated and freed (malloc and friends:
 * usable sizes; anonymous private mmap: pages) and the highest
 * allocated-minus-freed reached, since the thread's previous
 * heap_interval_take(). Process-wide it keeps the live total.
 *
 * Everything here may run inside malloc, in a signal handler, or in a
 * forked child of a multi-threaded parent: no allocation, no lock, no
 * stdio; thread-local counters; the one shared structure (the page map of
 * anonymous mappings) is updated with atomic word operations only.
 */
#ifndef MEMPROF_HEAP_H
#define MEMPROF_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap_interval {
    int64_t alloc;      /* bytes allocated by this thread in the interval */
    int64_t freed;      /* bytes it freed (whoever allocated them) */
    int64_t heap_peak;  /* highest alloc - freed reached, counted from 0 */
};

/* Turns accounting on or off for the process. Off (the default), the hooks
 * only forward. Call it outside any hook (the constructor, an audit event). */
void heap_enable(bool on);

/* The calling thread's counters since its previous call, then reset. */
void heap_interval_take(struct heap_interval *out);
/* Live heap bytes of the process counted since heap_enable(true): can be
 * off by what was allocated before and freed after. Sums one counter per
 * thread slot (at most HEAP_SLOTS), not a shared atomic. */
int64_t heap_live(void);

/* ---- for the hooks ---- */

/* Inline below because they run in every malloc and free: the budget is a
 * few nanoseconds. Not part of the API: use the functions. */
struct heap_thread {
    int64_t alloc, freed, peak;     /* the interval so far */
    int64_t *live;                  /* this thread's slot; NULL: go through heap_live_add */
    int state;                      /* of the slot, see heap.c */
};
extern __thread struct heap_thread heap_thread_ __attribute__((tls_model("initial-exec")));
extern bool heap_on_;
void heap_live_add(int64_t v);

static inline bool heap_enabled(void)
{
    return __atomic_load_n(&heap_on_, __ATOMIC_RELAXED);
}

/* Adds v to a counter that only the calling thread writes. On x86-64 one
 * add instruction: a signal handler running on this thread cannot land in
 * the middle of it, other threads read the old or the new value, and it
 * needs no lock prefix. Elsewhere a relaxed atomic add. */
static inline void heap_add_own_(int64_t *p, int64_t v)
{
#if defined(__x86_64__)
    __asm__ volatile("addq %1, %0" : "+m"(*p) : "er"(v));
#else
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}

/* A block of n (usable) bytes was allocated / freed by this thread. */
static inline void heap_count_alloc(size_t n)
{
    heap_add_own_(&heap_thread_.alloc, (int64_t)n);
    int64_t d = heap_thread_.alloc - heap_thread_.freed;
    if (d > heap_thread_.peak)
        heap_thread_.peak = d;
    if (__builtin_expect(heap_thread_.live != NULL, 1))
        heap_add_own_(heap_thread_.live, (int64_t)n);
    else
        heap_live_add((int64_t)n);
}

static inline void heap_count_free(size_t n)
{
    heap_add_own_(&heap_thread_.freed, (int64_t)n);
    if (__builtin_expect(heap_thread_.live != NULL, 1))
        heap_add_own_(heap_thread_.live, -(int64_t)n);
    else
        heap_live_add(-(int64_t)n);
}

/* Anonymous private mappings, tracked by page so that munmap, mremap and
 * MAP_FIXED over any part of them count only the pages that were ours.
 * heap_map_add marks [addr, addr+len) and counts the pages it newly marks
 * as allocated; heap_map_clear unmarks and returns the bytes that were
 * marked (the caller counts them with heap_count_free once the system call
 * succeeded, since the pages must be unmarked before the kernel can hand
 * them to another thread); heap_map_restore is for when the call failed:
 * it marks the range again if it was all marked, the usual case, or else
 * counts the cleared bytes as freed, so the books stay balanced. */
void heap_map_add(const void *addr, size_t len);
size_t heap_map_clear(const void *addr, size_t len);
void heap_map_restore(const void *addr, size_t len, size_t cleared);
/* Bytes of [addr, addr+len) that are marked (no change). */
size_t heap_map_marked(const void *addr, size_t len);

#define HEAP_SLOTS 1024

#endif
