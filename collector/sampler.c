/* sampler: see sampler.h. */
#include "sampler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "rss.h"
#include "trace.h"
#include "writer.h"

/* Samples are written at least this often, which bounds what a SIGKILL
 * can take away. */
#define FLUSH_NS 1000000000ull
#define SAMPLER_DEFAULT_NS 10000000ull       /* 10 ms */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static bool running;
static uint64_t interval;
static int out_fd = -1;
static writer_t w;
static uint64_t last_flush;
static bool resumable;       /* a fork child's sampling, not yet restarted */

bool sampler_parse_interval(const char *text, uint64_t *ns)
{
    if (!text || !*text) {
        *ns = SAMPLER_DEFAULT_NS;
        return true;
    }
    if (!strcmp(text, "off") || !strcmp(text, "0")) {
        *ns = 0;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double unit;
    if (errno || end == text || v <= 0)
        return false;
    if (!strcmp(end, "ns")) unit = 1;
    else if (!strcmp(end, "us")) unit = 1e3;
    else if (!strcmp(end, "ms") || !*end) unit = 1e6;
    else if (!strcmp(end, "s")) unit = 1e9;
    else return false;
    double n = v * unit;
    /* 1 ms to 60 s: finer would cost more than the 1% budget. */
    if (n < 1e6 || n > 60e9)
        return false;
    *ns = (uint64_t)n;
    return true;
}

/* Appends one sample; the caller holds the lock. */
static void take_sample(void)
{
    int64_t rss = rss_now() - trace_own_resident();
    uint64_t t = trace_clock();
    char *p = writer_reserve(&w, 96);
    if (!p || rss < 0)
        return;
    memcpy(p, "[3,", 3);
    p = fmt_i64(p + 3, rss);
    *p++ = ',';
    p = fmt_u64(p, t);
    if (heap_enabled()) {
        *p++ = ',';
        p = fmt_i64(p, heap_live());
    }
    *p++ = ']';
    *p++ = '\n';
    writer_commit(&w, p);
    writer_end_record(&w);
    if (t - last_flush >= FLUSH_NS) {
        writer_flush(&w);
        last_flush = t;
    }
}

static void *sample_loop(void *arg)
{
    sigset_t all;
    struct timespec next;
    sigfillset(&all);
    /* Signals are for the program's threads, not this one. */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        uint64_t ns = (uint64_t)next.tv_nsec + interval;
        next.tv_sec += (time_t)(ns / 1000000000u);
        next.tv_nsec = (long)(ns % 1000000000u);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        pthread_mutex_lock(&lock);
        bool go_on = running && !w.failed;
        if (go_on)
            take_sample();
        pthread_mutex_unlock(&lock);
        if (!go_on)
            return NULL;
    }
}

static bool spawn(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    running = pthread_create(&thread, &attr, sample_loop, NULL) == 0;
    pthread_attr_destroy(&attr);
    return running;
}

bool sampler_start(int fd, uint64_t interval_ns)
{
    if (!interval_ns || fd < 0 || !writer_init(&w, fd, getpid()))
        return false;
    out_fd = fd;
    interval = interval_ns;
    last_flush = trace_clock();
    pthread_mutex_lock(&lock);
    take_sample();
    pthread_mutex_unlock(&lock);
    return spawn();
}

void sampler_finish(void)
{
    resumable = false;
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    take_sample();
    writer_flush(&w);
    running = false;
    pthread_mutex_unlock(&lock);
}

void sampler_before_fork(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    writer_flush(&w);
}

void sampler_after_fork_parent(void)
{
    if (running)
        pthread_mutex_unlock(&lock);
}

void sampler_after_fork_child(void)
{
    if (!running)
        return;
    /* The sampling thread did not come along. A thread is not started
     * here (the child may be about to exec); sampler_resume() does it. */
    pthread_mutex_init(&lock, NULL);
    writer_reset_pid(&w, getpid());
    running = false;
    resumable = true;
}

void sampler_resume(void)
{
    if (!resumable)
        return;
    resumable = false;
    last_flush = trace_clock();
    pthread_mutex_lock(&lock);
    take_sample();
    pthread_mutex_unlock(&lock);
    spawn();
}
