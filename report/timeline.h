/*
 * timeline: memory over time in bounded space.
 *
 * A trace of an hour holds hundreds of millions of events, far more than a
 * plot can show or memory should hold, so values are kept per time bucket
 * (the lowest and the highest value and when they were seen).  The buckets
 * cover [0, TIMELINE_BUCKETS * width); a time past the end doubles the width
 * and merges neighbouring buckets, so a 1-second run and a 1-hour run both
 * end with up to TIMELINE_BUCKETS buckets and the shape of the curve.
 */
#ifndef MEMPROF_REPORT_TIMELINE_H
#define MEMPROF_REPORT_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>

#define TIMELINE_BUCKETS 2048

typedef struct timeline_bucket {
    bool used;
    long long lo, hi;           /* lowest and highest value */
    long long t_lo, t_hi;       /* when they were seen (ns) */
} timeline_bucket_t;

typedef struct timeline {
    long long width;            /* ns per bucket */
    unsigned long long count;   /* values added */
    long long max, t_max;       /* the highest value and its time */
    timeline_bucket_t b[TIMELINE_BUCKETS];
} timeline_t;

typedef struct timeline_point {
    long long t;                /* ns */
    long long v;
} timeline_point_t;

void timeline_init(timeline_t *tl);

/* Adds value V seen at time T (ns; negative times count as 0). */
void timeline_add(timeline_t *tl, long long t, long long v);

/* The curve, in time order, at most 2 * TIMELINE_BUCKETS points: each
 * bucket's low and high in the order they were seen.  Returns the number of
 * points written to OUT. */
size_t timeline_points(const timeline_t *tl, timeline_point_t *out);

#endif
