/*
 * heap: see heap.h.
 *
 * Three pieces of state, all usable from inside malloc, from a signal
 * handler and in a fork child, because none of them has a lock:
 *
 * - per-thread interval counters (alloc, freed, peak) in initial-exec TLS,
 *   which a hook reaches without calling anything (global-dynamic TLS may
 *   call __tls_get_addr, which may call malloc);
 * - the process's live total, one counter per thread in a fixed array of
 *   cache-line-sized slots summed by heap_live(): each slot has one writer,
 *   so a hook adds with one plain instruction instead of a lock-prefixed
 *   one on a line that all threads fight over. A thread takes a free slot
 *   (compare-and-swap) on its first counted call and gives it back, value
 *   kept, when it exits; without a slot (all taken, or exiting) it adds
 *   atomically to a shared one;
 * - a bitmap of the pages of anonymous private mappings, so that munmap or
 *   mremap of any part of a range counts exactly the pages that were
 *   counted when mapped, and never file mappings. Two levels: a static
 *   array of pointers per GiB of address space, and 32 KiB leaves mapped
 *   with a raw system call on first use and installed by compare-and-swap.
 */
#include "heap.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IE __attribute__((tls_model("initial-exec")))

bool heap_on_;
static bool set_up;
static size_t page_size = 4096;

__thread struct heap_thread heap_thread_ IE;

/* ---- the live total: one slot per thread ---- */

struct slot {
    int64_t live;       /* written by its owner only */
    int owned;
} __attribute__((aligned(64)));

enum { UNCLAIMED, OWNER, SHARING };     /* heap_thread_.state */

static struct slot slots[HEAP_SLOTS];
static int64_t shared_live;             /* threads without a slot: atomic adds */
static unsigned slots_used;             /* slots[0, slots_used) were ever taken */
static pthread_key_t slot_key;
static bool have_slot_key;

static void share(void)
{
    heap_thread_.live = NULL;
    heap_thread_.state = SHARING;
}

/* Runs at thread exit (pthread key destructor): the slot goes back to the
 * pool with its value, which still counts; what this thread frees from now
 * on goes to the shared counter. */
static void release_slot(void *p)
{
    struct slot *s = p;
    share();
    __atomic_store_n(&s->owned, 0, __ATOMIC_RELEASE);
}

static void claim_slot(void)
{
    /* pthread_setspecific may allocate and so come back here: until the
     * slot is ours, counts go to the shared counter. */
    share();
    for (unsigned i = 0; i < HEAP_SLOTS; i++) {
        int free_ = 0;
        if (__atomic_load_n(&slots[i].owned, __ATOMIC_RELAXED)
            || !__atomic_compare_exchange_n(&slots[i].owned, &free_, 1, false,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue;
        unsigned used = __atomic_load_n(&slots_used, __ATOMIC_RELAXED);
        while (used < i + 1
               && !__atomic_compare_exchange_n(&slots_used, &used, i + 1, true,
                                               __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            ;
        if (have_slot_key)
            pthread_setspecific(slot_key, &slots[i]);
        heap_thread_.state = OWNER;
        heap_thread_.live = &slots[i].live;
        return;
    }
}

/* The counters' slow path: a thread's first count, or a thread without a
 * slot of its own. */
void heap_live_add(int64_t v)
{
    if (heap_thread_.state == UNCLAIMED)
        claim_slot();
    if (heap_thread_.live)
        heap_add_own_(heap_thread_.live, v);
    else
        __atomic_fetch_add(&shared_live, v, __ATOMIC_RELAXED);
}

/* In a fork child only the forking thread lives on: the other threads'
 * slots are free again (their values, inherited memory, still count). */
static void after_fork_child(void)
{
    for (unsigned i = 0; i < HEAP_SLOTS; i++)
        if (&slots[i].live != heap_thread_.live)
            __atomic_store_n(&slots[i].owned, 0, __ATOMIC_RELAXED);
}

/* ---- the API ---- */

void heap_enable(bool on)
{
    if (on && !set_up) {
        set_up = true;
        long ps = sysconf(_SC_PAGESIZE);
        if (ps > 0)
            page_size = (size_t)ps;
        have_slot_key = pthread_key_create(&slot_key, release_slot) == 0;
        pthread_atfork(NULL, NULL, after_fork_child);
    }
    __atomic_store_n(&heap_on_, on, __ATOMIC_RELEASE);
}

void heap_interval_take(struct heap_interval *out)
{
    /* Exchanges, so that what a signal handler counts between reading and
     * resetting is not lost. */
    out->alloc = __atomic_exchange_n(&heap_thread_.alloc, 0, __ATOMIC_RELAXED);
    out->freed = __atomic_exchange_n(&heap_thread_.freed, 0, __ATOMIC_RELAXED);
    out->heap_peak = __atomic_exchange_n(&heap_thread_.peak, 0, __ATOMIC_RELAXED);
    if (out->heap_peak < out->alloc - out->freed)
        out->heap_peak = out->alloc - out->freed;
}

int64_t heap_live(void)
{
    unsigned n = __atomic_load_n(&slots_used, __ATOMIC_ACQUIRE);
    int64_t sum = __atomic_load_n(&shared_live, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < n; i++)
        sum += __atomic_load_n(&slots[i].live, __ATOMIC_RELAXED);
    return sum;
}

/* ---- the page map of anonymous mappings ---- */

#define PAGE_SHIFT  12                  /* bit granularity; lengths are rounded to page_size first */
#define LEAF_SHIFT  30                  /* one leaf per GiB */
#define ADDR_BITS   47                  /* user space without 5-level hints: higher is not counted */
#define LEAF_PAGES  (1ul << (LEAF_SHIFT - PAGE_SHIFT))
#define LEAF_BYTES  (LEAF_PAGES / 8)
#define LEAVES      (1ul << (ADDR_BITS - LEAF_SHIFT))
#define MAX_PAGE    (1ul << (ADDR_BITS - PAGE_SHIFT))

static uint64_t *leaves[LEAVES];

enum map_op { MARK, CLEAR, TEST };

static uint64_t *leaf_at(size_t i, bool create)
{
    uint64_t *leaf = __atomic_load_n(&leaves[i], __ATOMIC_ACQUIRE);
    if (leaf || !create)
        return leaf;
    /* A raw system call: neither our mmap hook nor anything that allocates. */
    long m = syscall(SYS_mmap, NULL, LEAF_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == -1)
        return NULL;
    if (__atomic_compare_exchange_n(&leaves[i], &leaf, (uint64_t *)m, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return (uint64_t *)m;
    syscall(SYS_munmap, (void *)m, LEAF_BYTES);     /* another thread won */
    return leaf;
}

/* Marks, clears or tests the pages of [addr, addr+len); returns the bytes
 * of pages that changed (MARK: newly marked; CLEAR: were marked) or are
 * marked (TEST). */
static size_t map_range(const void *addr, size_t len, enum map_op op)
{
    uintptr_t a = (uintptr_t)addr;
    if (len == 0 || (a & (page_size - 1)) || len > SIZE_MAX - page_size)
        return 0;
    len = (len + page_size - 1) & ~(page_size - 1);
    uintptr_t pg = a >> PAGE_SHIFT;
    uintptr_t end = pg + (len >> PAGE_SHIFT);
    if (end > MAX_PAGE || end < pg)
        end = MAX_PAGE;
    size_t pages = 0;
    while (pg < end) {
        size_t li = pg / LEAF_PAGES;
        uintptr_t stop = (li + 1) * LEAF_PAGES < end ? (li + 1) * LEAF_PAGES : end;
        uint64_t *leaf = leaf_at(li, op == MARK);
        if (!leaf) {
            pg = stop;
            continue;
        }
        while (pg < stop) {
            size_t bit = pg % LEAF_PAGES, w = bit / 64, b = bit % 64;
            size_t nb = 64 - b < stop - pg ? 64 - b : stop - pg;
            uint64_t mask = nb == 64 ? ~0ull : ((1ull << nb) - 1) << b;
            uint64_t old;
            switch (op) {
            case MARK:
                old = __atomic_fetch_or(&leaf[w], mask, __ATOMIC_RELAXED);
                pages += (size_t)__builtin_popcountll(~old & mask);
                break;
            case CLEAR:
                old = __atomic_fetch_and(&leaf[w], ~mask, __ATOMIC_RELAXED);
                pages += (size_t)__builtin_popcountll(old & mask);
                break;
            case TEST:
                old = __atomic_load_n(&leaf[w], __ATOMIC_RELAXED);
                pages += (size_t)__builtin_popcountll(old & mask);
                break;
            }
            pg += nb;
        }
    }
    return pages << PAGE_SHIFT;
}

void heap_map_add(const void *addr, size_t len)
{
    size_t added = map_range(addr, len, MARK);
    if (added)
        heap_count_alloc(added);
}

size_t heap_map_clear(const void *addr, size_t len)
{
    return map_range(addr, len, CLEAR);
}

void heap_map_restore(const void *addr, size_t len, size_t cleared)
{
    size_t whole = len <= SIZE_MAX - page_size ? (len + page_size - 1) & ~(page_size - 1) : 0;
    if (cleared && cleared == whole)
        map_range(addr, len, MARK);
    else if (cleared)
        heap_count_free(cleared);
}

size_t heap_map_marked(const void *addr, size_t len)
{
    return map_range(addr, len, TEST);
}
