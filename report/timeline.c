/*
 * timeline: min/max buckets whose width doubles as the run gets longer; see
 * timeline.h.  Adding is O(1) except for the rare doubling, which is
 * O(TIMELINE_BUCKETS) and happens at most 64 times.
 */
#include "timeline.h"

#include <string.h>

/* A microsecond: fine enough for the shortest runs worth plotting. */
enum { FIRST_WIDTH_NS = 1000 };

void timeline_init(timeline_t *tl)
{
    memset(tl, 0, sizeof *tl);
    tl->width = FIRST_WIDTH_NS;
}

static void merge_into(timeline_bucket_t *to, const timeline_bucket_t *from)
{
    if (!from->used)
        return;
    if (!to->used) {
        *to = *from;
        return;
    }
    if (from->lo < to->lo) {
        to->lo = from->lo;
        to->t_lo = from->t_lo;
    }
    if (from->hi > to->hi) {
        to->hi = from->hi;
        to->t_hi = from->t_hi;
    }
}

static void double_width(timeline_t *tl)
{
    size_t i;

    for (i = 0; i < TIMELINE_BUCKETS / 2; i++) {
        timeline_bucket_t merged = tl->b[2 * i];
        merge_into(&merged, &tl->b[2 * i + 1]);
        tl->b[i] = merged;
    }
    memset(&tl->b[TIMELINE_BUCKETS / 2], 0, sizeof tl->b / 2);
    tl->width *= 2;
}

void timeline_add(timeline_t *tl, long long t, long long v)
{
    timeline_bucket_t *b;

    if (t < 0)
        t = 0;
    while (t / tl->width >= TIMELINE_BUCKETS)
        double_width(tl);
    b = &tl->b[t / tl->width];
    if (!b->used) {
        b->used = true;
        b->lo = b->hi = v;
        b->t_lo = b->t_hi = t;
    } else if (v < b->lo) {
        b->lo = v;
        b->t_lo = t;
    } else if (v > b->hi) {
        b->hi = v;
        b->t_hi = t;
    }
    if (tl->count == 0 || v > tl->max) {
        tl->max = v;
        tl->t_max = t;
    }
    tl->count++;
}

size_t timeline_points(const timeline_t *tl, timeline_point_t *out)
{
    size_t i, n = 0;

    for (i = 0; i < TIMELINE_BUCKETS; i++) {
        const timeline_bucket_t *b = &tl->b[i];
        bool lo_first = b->t_lo <= b->t_hi;

        if (!b->used)
            continue;
        out[n].t = lo_first ? b->t_lo : b->t_hi;
        out[n++].v = lo_first ? b->lo : b->hi;
        if (b->t_lo != b->t_hi || b->lo != b->hi) {
            out[n].t = lo_first ? b->t_hi : b->t_lo;
            out[n++].v = lo_first ? b->hi : b->lo;
        }
    }
    return n;
}
