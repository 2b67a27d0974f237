/* sampler: see sampler.h. The thread is joinable and waits on a condition
 * variable, so that a fork can end it and wait until it is gone. */
#include "sampler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <sys/syscall.h>
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
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;    /* waited on with CLOCK_MONOTONIC */
static pthread_t thread;
static pid_t sampler_tid;
static bool running;            /* the thread exists (joinable) */
static bool stopping;           /* asks the thread to end */
static bool paused;             /* stopped around a fork, to start again */
static uint64_t interval;
static int out_fd = -1;
static writer_t w;
static uint64_t last_flush;
static bool resumable;       /* a fork child's sampling, not yet restarted */

/* The documented forms only: digits, optionally a point and more digits,
 * then ns, us, ms, s or nothing (milliseconds); "off" or "0". No sign, exponent, hex,
 * inf/nan or spaces, which strtod() would take. */
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
    const char *p = text;
    uint64_t whole = 0, frac = 0, scale = 1;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        if (digits < 12)
            whole = whole * 10 + (uint64_t)(*p - '0');
        else
            return false;
    if (*p == '.') {
        if (!digits || p[1] < '0' || p[1] > '9')
            return false;
        p++;
        for (int k = 0; *p >= '0' && *p <= '9'; p++, k++, digits++)
            if (k < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
    }
    if (!digits)
        return false;
    uint64_t unit;
    if (!strcmp(p, "ns")) unit = 1;
    else if (!strcmp(p, "us")) unit = 1000;
    else if (!strcmp(p, "ms") || !*p) unit = 1000000;
    else if (!strcmp(p, "s")) unit = 1000000000;
    else return false;
    /* whole < 10^12 and unit <= 10^9: the product may overflow, so compare
     * against the limits in the unit first. */
    const uint64_t lo = 1000000, hi = 60000000000ull;
    if (whole > hi / unit + 1)
        return false;
    uint64_t n = whole * unit + frac * unit / scale;
    /* 1 ms to 60 s: finer would cost more than the 1% budget. */
    if (n < lo || n > hi)
        return false;
    *ns = n;
    return true;
}

/* Appends one sample; the caller holds the lock. */
static void take_sample(void)
{
    int64_t rss = rss_sample() - trace_own_resident();
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
    sampler_tid = (pid_t)syscall(SYS_gettid);
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&lock);
    for (;;) {
        uint64_t ns = (uint64_t)next.tv_nsec + interval;
        next.tv_sec += (time_t)(ns / 1000000000u);
        next.tv_nsec = (long)(ns % 1000000000u);
        /* A wait that sampler_pause() can cut short. */
        while (!stopping && pthread_cond_clockwait(&wake, &lock, CLOCK_MONOTONIC, &next) != ETIMEDOUT)
            ;
        if (stopping || !running || w.failed)
            break;
        take_sample();
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static bool spawn(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    stopping = false;
    running = pthread_create(&thread, &attr, sample_loop, NULL) == 0;
    pthread_attr_destroy(&attr);
    return running;
}

bool sampler_start(int fd, const char *path, uint64_t interval_ns)
{
    if (!interval_ns || !(path ? writer_init_path(&w, path, getpid()) : writer_init(&w, fd, getpid())))
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
    paused = false;
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    take_sample();
    writer_flush(&w);
    running = false;
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

/* Ends the thread and waits until it is gone; what it gathered is
 * written out. With wait_for_kernel, also until the kernel no longer counts
 * it among the process's threads (pthread_join returns a little before
 * that: the thread's id is cleared before the thread is released). */
static void stop_thread(bool wait_for_kernel)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
    writer_flush(&w);
    if (!wait_for_kernel || sampler_tid <= 0)
        return;
    char task[64];
    snprintf(task, sizeof task, "/proc/self/task/%d", (int)sampler_tid);
    /* Bounded: a few microseconds normally; 10 ms at the very most. */
    for (int i = 0; i < 1000 && access(task, F_OK) == 0; i++) {
        struct timespec ten_us = { 0, 10000 };
        nanosleep(&ten_us, NULL);
    }
}

void sampler_pause(bool wait_for_kernel)
{
    if (!running)
        return;
    stop_thread(wait_for_kernel);
    paused = true;
}

bool sampler_paused(void)
{
    return paused;
}

void sampler_unpause(void)
{
    if (!paused)
        return;
    paused = false;
    last_flush = trace_clock();
    spawn();
}

void sampler_stop(void)
{
    resumable = false;
    paused = false;
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    take_sample();
    pthread_mutex_unlock(&lock);
    stop_thread(false);
}

bool sampler_running(void)
{
    return running && !paused;
}

void sampler_after_fork_child(void)
{
    /* The thread was stopped before the fork (sampler_pause()); it is not
     * started again here (the child may be about to exec): sampler_resume()
     * does it. */
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&wake, NULL);
    if (!paused)
        return;
    paused = false;
    writer_reset_pid(&w, getpid());
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
