/*
 * progress: see progress.h.  CLOCK_MONOTONIC, because a wall-clock step
 * must not freeze or flood the line.
 */
#include "progress.h"

enum { DELAY_MS = 500, PERIOD_MS = 100 };

static long long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000LL + (b->tv_nsec - a->tv_nsec) / 1000000;
}

void progress_init(progress_t *p, FILE *stream, bool enabled)
{
    p->stream = stream;
    p->enabled = enabled;
    p->shown = false;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->last = p->start;
}

void progress_update(progress_t *p, const char *what, unsigned long long done,
                     unsigned long long total)
{
    struct timespec now;

    if (!p->enabled)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (ms_between(&p->start, &now) < DELAY_MS ||
        (p->shown && ms_between(&p->last, &now) < PERIOD_MS))
        return;
    p->last = now;
    if (total > 0)
        fprintf(p->stream, "\rmemprof-report: reading %s: %3d%%", what,
                (int)(done >= total ? 100 : done * 100 / total));
    else
        fprintf(p->stream, "\rmemprof-report: reading %s: %llu MiB", what, done >> 20);
    fflush(p->stream);
    p->shown = true;
}

void progress_end(progress_t *p)
{
    if (!p->shown)
        return;
    fputs("\r\033[K", p->stream);
    fflush(p->stream);
    p->shown = false;
}
