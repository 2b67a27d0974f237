/*
 * Unit tests of heap accounting (collector/heap.c) through its C API,
 * without LD_PRELOAD: the interval arithmetic, the live total across
 * threads that come and go (more than HEAP_SLOTS of them), the page map of
 * anonymous mappings (fake addresses: it only keeps bits), counts from a
 * signal handler interrupting counts on the same thread, and a fork child.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "heap.h"

#define MiB (1024 * 1024)
#define PAGE 4096

static struct heap_interval take(void)
{
    struct heap_interval h;
    heap_interval_take(&h);
    return h;
}

static void test_interval(void)
{
    take();
    struct heap_interval h = take();
    CHECK(h.alloc == 0 && h.freed == 0 && h.heap_peak == 0);

    heap_count_alloc(100);
    heap_count_free(40);
    heap_count_alloc(10);
    h = take();
    CHECK(h.alloc == 110);
    CHECK(h.freed == 40);
    CHECK(h.heap_peak == 100);      /* 100, then 60, then 70 */
    h = take();
    CHECK(h.alloc == 0 && h.freed == 0 && h.heap_peak == 0);

    /* Only frees: the peak is counted from 0 at the interval's start. */
    heap_count_free(50);
    h = take();
    CHECK(h.freed == 50 && h.heap_peak == 0);

    /* Free first, then more than was freed. */
    heap_count_free(30);
    heap_count_alloc(20);
    heap_count_alloc(25);
    h = take();
    CHECK(h.alloc == 45 && h.freed == 30 && h.heap_peak == 15);
}

static void test_live(void)
{
    int64_t base = heap_live();
    heap_count_alloc(10 * MiB);
    CHECK(heap_live() == base + 10 * MiB);
    heap_count_free(10 * MiB);
    CHECK(heap_live() == base);
    take();
}

/* ---- threads ---- */

struct worker {
    int64_t alloc, freed;
    struct heap_interval seen;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    take();
    for (int i = 0; i < 1000; i++) {
        heap_count_alloc((size_t)w->alloc);
        if (i % 2)
            heap_count_free((size_t)w->freed);
    }
    w->seen = take();
    return NULL;
}

static void test_threads(void)
{
    int64_t base = heap_live();
    struct worker w[8];
    pthread_t t[8];
    int64_t want = 0;
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){ .alloc = 100 + i, .freed = 50 + i };
        want += 1000 * (100 + i) - 500 * (50 + i);
        CHECK(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].seen.alloc == 1000 * (100 + i));
        CHECK(w[i].seen.freed == 500 * (50 + i));
        /* The peak is reached at the last allocation, before its free. */
        CHECK(w[i].seen.heap_peak == 1000 * (100 + i) - 499 * (50 + i));
    }
    /* Threads that exited still count (their slots keep their values). */
    CHECK(heap_live() == base + want);
    struct heap_interval mine = take();
    CHECK(mine.alloc == 0 && mine.freed == 0);
}

static void *alloc_one_kib(void *arg)
{
    heap_count_alloc(1024);
    return arg;
}

static pthread_barrier_t all_started;

static void *alloc_and_wait(void *arg)
{
    heap_count_alloc(1);
    pthread_barrier_wait(&all_started);
    return arg;
}

static void test_many_threads(void)
{
    int64_t base = heap_live();
    /* One after another: slots are given back and taken again. */
    for (int i = 0; i < HEAP_SLOTS + 200; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, alloc_one_kib, NULL) == 0);
        pthread_join(t, NULL);
    }
    CHECK(heap_live() == base + (int64_t)(HEAP_SLOTS + 200) * 1024);

    /* More at once than there are slots: the rest share one. */
    enum { N = HEAP_SLOTS + 50 };
    static pthread_t t[N];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_barrier_init(&all_started, NULL, N + 1);
    int started = 0;
    for (int i = 0; i < N; i++)
        if (pthread_create(&t[i], &attr, alloc_and_wait, NULL) == 0)
            started++;
    CHECK(started == N);
    if (started == N)
        pthread_barrier_wait(&all_started);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&all_started);
    pthread_attr_destroy(&attr);
    CHECK(heap_live() == base + (int64_t)(HEAP_SLOTS + 200) * 1024 + N);
}

/* ---- the page map ---- */

/* What the munmap hook does when the system call succeeds. */
static size_t unmapped(const void *addr, size_t len)
{
    size_t cleared = heap_map_clear(addr, len);
    heap_count_free(cleared);
    return cleared;
}

static void test_map(void)
{
    /* Fake addresses: the map only keeps bits. One GiB boundary inside. */
    char *gib = (char *)(uintptr_t)0x7e0040000000ull;
    char *a = gib - 2 * PAGE;
    take();
    int64_t base = heap_live();

    heap_map_add(a, 3 * PAGE + 1);              /* rounded up to 4 pages */
    struct heap_interval h = take();
    CHECK(h.alloc == 4 * PAGE && h.freed == 0 && h.heap_peak == 4 * PAGE);
    CHECK(heap_map_marked(a, 4 * PAGE) == 4 * PAGE);
    CHECK(heap_live() == base + 4 * PAGE);

    heap_map_add(a + PAGE, PAGE);               /* already marked: nothing new */
    CHECK(take().alloc == 0);

    CHECK(unmapped(a + PAGE, 2 * PAGE) == 2 * PAGE);        /* across the boundary */
    CHECK(heap_map_marked(a, 4 * PAGE) == 2 * PAGE);
    CHECK(unmapped(a + PAGE, 2 * PAGE) == 0);               /* twice: nothing */
    CHECK(unmapped(a + 1, PAGE) == 0);                      /* unaligned: as munmap, refused */
    CHECK(unmapped(a - 16 * PAGE, 32 * PAGE) == 2 * PAGE);
    CHECK(heap_map_marked(a, 4 * PAGE) == 0);
    h = take();
    CHECK(h.alloc == 0 && h.freed == 4 * PAGE && h.heap_peak == 0);
    CHECK(heap_live() == base);

    /* Never marked: a file mapping's pages count nothing when unmapped. */
    CHECK(unmapped((char *)(uintptr_t)0x100000000000ull, 100 * PAGE) == 0);
    /* Beyond 47 bits: not tracked on either side. */
    heap_map_add((char *)(uintptr_t)0x900000000000ull, PAGE);
    CHECK(take().alloc == 0);

    /* A failed munmap: the whole range was ours, so it is marked again. */
    heap_map_add(a, 4 * PAGE);
    size_t cleared = heap_map_clear(a, 4 * PAGE);
    CHECK(cleared == 4 * PAGE);
    heap_map_restore(a, 4 * PAGE, cleared);
    CHECK(heap_map_marked(a, 4 * PAGE) == 4 * PAGE);
    /* Only part of it was: that part counts as freed, unmarked. */
    cleared = heap_map_clear(a, 8 * PAGE);
    CHECK(cleared == 4 * PAGE);
    heap_map_restore(a, 8 * PAGE, cleared);
    CHECK(heap_map_marked(a, 8 * PAGE) == 0);
    h = take();
    CHECK(h.alloc == 4 * PAGE && h.freed == 4 * PAGE);
    CHECK(heap_live() == base);

    /* A big range: 3 GiB over three leaves, then unmapped over four. */
    char *big = (char *)(uintptr_t)0x7d0000000000ull;
    heap_map_add(big, 3ull << 30);
    CHECK(take().alloc == 3ll << 30);
    CHECK(heap_live() == base + (3ll << 30));
    CHECK(unmapped(big + PAGE, 3ull << 30) == (3ull << 30) - PAGE);
    CHECK(unmapped(big, PAGE) == PAGE);
    CHECK(take().freed == 3ll << 30);
    CHECK(heap_live() == base);
}

/* ---- signals ---- */

static volatile sig_atomic_t handled;
static volatile int stop_signals;

static void on_signal(int sig)
{
    heap_count_alloc(1000);
    heap_count_free(10);
    handled++;
}

static void *signaller(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    while (!stop_signals) {
        pthread_kill(target, SIGUSR1);
        usleep(20);
    }
    return NULL;
}

/* A count interrupted by a handler that counts on the same thread loses
 * neither. */
static void test_signal(void)
{
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    take();
    int64_t base = heap_live();
    pthread_t self = pthread_self(), t;
    CHECK(pthread_create(&t, NULL, signaller, &self) == 0);
    const int n = 20 * 1000 * 1000;
    for (int i = 0; i < n; i++) {
        heap_count_alloc(1);
        heap_count_free(1);
    }
    stop_signals = 1;
    pthread_join(t, NULL);
    signal(SIGUSR1, SIG_IGN);
    int got = handled;
    struct heap_interval h = take();
    CHECK(got > 0);
    CHECK(h.alloc == n + 1000ll * got);
    CHECK(h.freed == n + 10ll * got);
    CHECK(heap_live() == base + 990ll * got);
    heap_count_free((size_t)(990ll * got));
    take();
}

/* ---- fork ---- */

static void *hold_slot(void *arg)
{
    heap_count_alloc(1);
    pthread_barrier_wait(&all_started);     /* alive while the parent forks */
    pthread_barrier_wait(&all_started);
    return arg;
}

static void test_fork(void)
{
    pthread_t t;
    pthread_barrier_init(&all_started, NULL, 2);
    CHECK(pthread_create(&t, NULL, hold_slot, NULL) == 0);
    pthread_barrier_wait(&all_started);
    heap_count_alloc(7);
    int64_t live = heap_live();
    pid_t pid = fork();
    if (pid == 0) {
        /* The child goes on with its parent's counts. */
        bool ok = heap_live() == live;
        struct heap_interval h;
        heap_count_alloc(5);
        heap_interval_take(&h);
        ok = ok && h.alloc == 12 && heap_live() == live + 5;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pthread_barrier_wait(&all_started);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&all_started);
    CHECK(take().alloc == 7);
}

int main(void)
{
    CHECK(!heap_enabled());
    heap_enable(true);
    CHECK(heap_enabled());
    test_interval();
    test_live();
    test_threads();
    test_many_threads();
    test_map();
    test_signal();
    test_fork();
    heap_enable(false);
    CHECK(!heap_enabled());
    return check_summary();
}
