/*
 * heap_micro: the cost of heap accounting per malloc/free pair.
 *
 * Tight loops of malloc(SIZE) then free, LOOPS pairs per loop, ROUNDS
 * times, alternating glibc's own __libc_malloc/__libc_free (no hook) with
 * malloc/free (the hooks when preloaded); prints the medians per pair and
 * the median of the per-round difference. Run by bench/heap_micro.sh:
 * plain, then under LD_PRELOAD=build/libmemprof.so with accounting off (a
 * process that is not Python: the hooks only forward), then on. For "on",
 * this program
 * is also built linked with libpython (never initialised): the agent's
 * constructor then finds PySys_AddAuditHook, takes it for Python and turns
 * accounting on, with no line traced, the case the budget is for.
 *
 *   heap_micro [SIZE [THREADS]]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef WITH_PYTHON
#include <Python.h>
#endif

#define LOOPS 1000000
#define ROUNDS 31

/* glibc's own entry points: the same allocator with no hook in front. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static size_t size = 64;

struct result {
    double direct[ROUNDS], hooked[ROUNDS], added[ROUNDS];
};

/* CPU time of this thread: on a busy machine, time spent preempted is
 * not counted against either loop. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp);
    return v[ROUNDS / 2];
}

/* Rounds alternate the two loops, so that a busy machine slows both alike;
 * the added cost is taken per round, then its median. */
static void *run(void *out)
{
    struct result *res = out;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < LOOPS; i++) {
            void *volatile p = __libc_malloc(size);
            __libc_free(p);
        }
        double t1 = now_ns();
        for (int i = 0; i < LOOPS; i++) {
            void *volatile p = malloc(size);
            free(p);
        }
        double t2 = now_ns();
        res->direct[r] = (t1 - t0) / LOOPS;
        res->hooked[r] = (t2 - t1) / LOOPS;
        res->added[r] = res->hooked[r] - res->direct[r];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        size = strtoul(argv[1], NULL, 10);
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (threads < 1 || threads > 64)
        threads = 1;
    static struct result results[64];
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, &results[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
#ifdef WITH_PYTHON
    const char *kind = Py_GetVersion() ? "linked with libpython" : "";
#else
    const char *kind = "plain";
#endif
    for (int i = 0; i < threads; i++)
        printf("%s, size %zu, thread %d/%d: median ns per malloc/free pair: "
               "glibc direct %.1f, malloc/free %.1f, added %.1f\n", kind, size, i + 1, threads,
               median(results[i].direct), median(results[i].hooked), median(results[i].added));
    return 0;
}
