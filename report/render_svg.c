/*
 * render_svg: see render_svg.h.  Times are aligned across the processes of
 * one trace by their headers' t0_ns (children start later than their
 * parent); separate traces each start at 0.
 */
#include "render_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render_json.h"
#include "text.h"

enum {
    LEFT = 80, RIGHT = 30, TOP = 50, BOTTOM = 60,
    PLOT_W = SVG_WIDTH - LEFT - RIGHT,
    PLOT_H = SVG_HEIGHT - TOP - BOTTOM,
    LEGEND_LEN = 80,        /* bytes of a command line shown in the legend */
};

static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
};
#define NPALETTE (sizeof palette / sizeof palette[0])

typedef struct frame {
    double t_max, y_max;        /* seconds, MiB: the axes' ends */
} frame_t;

static double px(const frame_t *f, double seconds)
{
    return LEFT + seconds / f->t_max * PLOT_W;
}

static double py(const frame_t *f, double mib)
{
    return TOP + PLOT_H - mib / f->y_max * PLOT_H;
}

/* ns added to a section's times to put it on the plot's clock. */
static long long offset_of(const model_t *m, const section_t *s)
{
    long long t0 = s->t0_ns;
    size_t i;

    if (!s->has_t0)
        return 0;
    for (i = 0; i < m->nsections; i++) {
        const section_t *o = m->sections[i];
        if (o->has_t0 && o->trace == s->trace && o->t0_ns < t0)
            t0 = o->t0_ns;
    }
    return s->t0_ns - t0;
}

/* A round step giving about N ticks over [0, MAX]. */
static double nice_step(double max, int n)
{
    double raw = max / n, mag = pow(10, floor(log10(raw))), r = raw / mag;

    if (r <= 1)
        return mag;
    if (r <= 2)
        return 2 * mag;
    if (r <= 5)
        return 5 * mag;
    return 10 * mag;
}

/* Digits after the point that a tick step needs ("0.5", "0.0002"), so that
 * labels are never in exponent form. */
static int decimals(double step)
{
    int d = (int)-floor(log10(step) + 1e-9);
    return d > 0 ? d : 0;
}

static void axes(FILE *out, const frame_t *f)
{
    double step, v;
    int d;

    fprintf(out, "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n");
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#999\"/>\n", LEFT, TOP, PLOT_W, PLOT_H);
    step = nice_step(f->t_max, 8);
    d = decimals(step);
    for (v = 0; v <= f->t_max * 1.0000001; v += step) {
        double x = px(f, v);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n",
                x, TOP, x, TOP + PLOT_H + 5, x, TOP + PLOT_H + 18, d, v);
    }
    step = nice_step(f->y_max, 6);
    d = decimals(step);
    for (v = 0; v <= f->y_max * 1.0000001; v += step) {
        double y = py(f, v);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                LEFT - 5, y, LEFT + PLOT_W, y, LEFT - 8, y + 4, d, v);
    }
    fprintf(out, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
            "font-size=\"14\">Time (s)</text>\n", LEFT + PLOT_W / 2, SVG_HEIGHT - 15);
    fprintf(out, "<text class=\"ylabel\" x=\"20\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\" "
            "transform=\"rotate(-90 20 %d)\">Memory (MiB)</text>\n</g>\n",
            TOP + PLOT_H / 2, TOP + PLOT_H / 2);
}

/* The spans of one section, neighbours closer than a pixel merged per
 * function so that a function called a million times is a few bands. */
static void spans(FILE *out, const frame_t *f, const section_t *s, long long off, size_t colour)
{
    size_t tab, i;
    double row = 0;

    for (tab = 0; tab < s->ntables; tab++) {
        const char *name = table_display_name(&s->tables[tab]);
        double x0 = -1, x1 = -1;
        bool labelled = false;

        for (i = 0; i <= s->nspans; i++) {
            const span_t *sp = i < s->nspans ? &s->spans[i] : NULL;
            double a, b;

            if (sp && sp->table != tab)
                continue;
            a = sp ? px(f, (double)(sp->start + off) / 1e9) : 0;
            b = sp ? px(f, (double)(sp->end + off) / 1e9) : 0;
            if (sp && x0 >= 0 && a <= x1 + 1) {
                if (b > x1)
                    x1 = b;
                continue;
            }
            if (x0 >= 0) {
                if (x1 - x0 < 1)
                    x1 = x0 + 1;
                fprintf(out, "<rect class=\"span\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                        "height=\"%d\" fill=\"%s\" fill-opacity=\"0.12\"><title>",
                        x0, TOP, x1 - x0, PLOT_H, palette[(colour + tab) % NPALETTE]);
                text_html(out, name, strlen(name));
                fputs("</title></rect>\n", out);
                if (!labelled || x1 - x0 >= 80) {
                    fprintf(out, "<text class=\"span-label\" x=\"%.1f\" y=\"%.1f\" "
                            "font-size=\"11\" fill=\"%s\">", x0 + 2, TOP + 12 + row * 13,
                            palette[(colour + tab) % NPALETTE]);
                    text_html(out, name, strlen(name));
                    fputs("</text>\n", out);
                    labelled = true;
                }
            }
            x0 = a;
            x1 = b;
        }
        if (labelled)
            row = fmod(row + 1, 8);
    }
}

/* One curve: the lowest and highest point per pixel column, in time order. */
static void curve(FILE *out, const frame_t *f, const timeline_point_t *p, size_t n, long long off,
                  const char *colour, const char *dash)
{
    long long col = -1;
    size_t i, lo = 0, hi = 0;
    bool any = false;

    if (n == 0)
        return;
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"", colour,
            dash);
    for (i = 0; i <= n; i++) {
        long long c = i < n ? (long long)px(f, (double)(p[i].t + off) / 1e9) : -2;
        if (c == col) {
            if (p[i].v < p[lo].v)
                lo = i;
            if (p[i].v > p[hi].v)
                hi = i;
            continue;
        }
        if (col != -1) {
            size_t a = lo < hi ? lo : hi, b = lo < hi ? hi : lo;
            fprintf(out, "%s%.1f,%.1f", any ? " " : "", px(f, (double)(p[a].t + off) / 1e9),
                    py(f, (double)p[a].v / 1048576.0));
            if (b != a)
                fprintf(out, " %.1f,%.1f", px(f, (double)(p[b].t + off) / 1e9),
                        py(f, (double)p[b].v / 1048576.0));
            any = true;
        }
        col = c;
        lo = hi = i;
    }
    fputs("\"/>\n", out);
}

int render_svg(FILE *out, const model_t *m, bool standalone)
{
    timeline_point_t *pts = malloc(2 * TIMELINE_BUCKETS * sizeof *pts);
    frame_t f = {0, 0};
    const section_t *peak_s = NULL;
    long long peak_off = 0;
    size_t i, n;

    if (!pts)
        return -1;
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        double end = (double)(s->t_last + offset_of(m, s)) / 1e9;
        if (end > f.t_max)
            f.t_max = end;
        if ((double)s->peak_rss / 1048576.0 > f.y_max)
            f.y_max = (double)s->peak_rss / 1048576.0;
        if (!peak_s || s->peak_rss > peak_s->peak_rss) {
            peak_s = s;
            peak_off = offset_of(m, s);
        }
    }
    f.t_max = f.t_max > 0 ? f.t_max * 1.02 : 1;
    f.y_max = f.y_max > 0 ? f.y_max * 1.12 : 1;

    if (standalone)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", SVG_WIDTH, SVG_HEIGHT,
            SVG_WIDTH, SVG_HEIGHT);
    fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", SVG_WIDTH, SVG_HEIGHT);
    fputs("<title>memprof: ", out);
    if (m->nsections)
        text_html(out, m->sections[0]->command, strlen(m->sections[0]->command));
    fputs("</title>\n", out);
    fprintf(out, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">memory over time"
            "</text>\n", LEFT);
    axes(out, &f);
    for (i = 0; i < m->nsections; i++)
        spans(out, &f, m->sections[i], offset_of(m, m->sections[i]), i);
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        const char *colour = palette[i % NPALETTE];
        size_t len = strlen(s->command);

        n = section_rss_points(s, pts);
        curve(out, &f, pts, n, offset_of(m, s), colour, "");
        if (s->sample_heap->count) {
            n = timeline_points(s->sample_heap, pts);
            curve(out, &f, pts, n, offset_of(m, s), colour, " stroke-dasharray=\"4 3\"");
        }
        fprintf(out, "<text class=\"legend\" x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\" "
                "text-anchor=\"end\">pid %lld: ", LEFT + PLOT_W - 5,
                TOP + PLOT_H - 8 - (int)(m->nsections - 1 - i) * 15, colour, s->pid);
        text_html(out, s->command, len > LEGEND_LEN ? LEGEND_LEN : len);
        fprintf(out, "%s%s</text>\n", len > LEGEND_LEN ? "..." : "",
                s->sample_heap->count ? " (dashed: heap)" : "");
    }
    if (peak_s && peak_s->peak_rss > 0) {
        double x = px(&f, (double)(peak_s->peak_t + peak_off) / 1e9);
        double y = py(&f, (double)peak_s->peak_rss / 1048576.0);
        fprintf(out, "<circle class=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" "
                "stroke=\"black\" stroke-width=\"1.5\"/>\n<text class=\"peak-label\" x=\"%.1f\" "
                "y=\"%.1f\" font-size=\"12\" text-anchor=\"%s\">peak %.3f MiB at %.4g s</text>\n",
                x, y, x > LEFT + PLOT_W / 2 ? x - 8 : x + 8, y - 6,
                x > LEFT + PLOT_W / 2 ? "end" : "start", (double)peak_s->peak_rss / 1048576.0,
                (double)(peak_s->peak_t + peak_off) / 1e9);
    }
    fputs("</svg>\n", out);
    free(pts);
    return 0;
}
