/*
 * render_svg: see render_svg.h.  Times are aligned across the processes of
 * one trace by their headers' t0_ns (children start later than their
 * parent); separate traces each start at 0.
 *
 * The picture is three stacked parts sharing one time axis, so that no
 * text can land on another: the curves' legend above the plot (entries
 * wrapped into rows by their estimated width), the plot (curves, the peak
 * and its label, which is the only text inside it), and under the time
 * axis one lane per profiled function, its name in the left margin and its
 * spans as bars.  A lane never holds text, and a name is in exactly one
 * place however many spans it has: 30 functions are 30 lanes.  The spans
 * the program named (profile.timestamp) follow in a block of the same
 * lanes, one per name.
 */
#include "render_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render_json.h"
#include "text.h"

enum {
    LEFT = 190, RIGHT = 30,
    PLOT_W = SVG_WIDTH - LEFT - RIGHT,
    PLOT_H = 300,
    LEGEND_ROW = 16,
    LANE_H = 13,
    MAX_LANES = 40,         /* more functions: the busiest 40, and a note */
    NAME_LEN = 30,          /* characters of a function's name in its lane */
    LEGEND_LEN = 60,        /* bytes of a command line in the legend */
    CHAR_W = 7,             /* a 12px character's width, generously */
};

/* Strong colours for the processes' curves and their bars; no two alike
 * and none pale, so that a bar reads against the white. */
static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
};
#define NPALETTE (sizeof palette / sizeof palette[0])
#define TOTAL_COLOUR "#222222"

typedef struct frame {
    double t_max, y_max;        /* seconds, MiB: the axes' ends */
    int top;                    /* y of the plot's top edge */
} frame_t;

static double px(const frame_t *f, double seconds)
{
    return LEFT + seconds / f->t_max * PLOT_W;
}

static double py(const frame_t *f, double mib)
{
    return f->top + PLOT_H - mib / f->y_max * PLOT_H;
}

/* The earliest CLOCK_MONOTONIC origin of trace TRACE's sections and of
 * its process tree's samples, which start before any of them. */
static long long trace_origin(const model_t *m, const char *trace, long long t0)
{
    for (size_t i = 0; i < m->nsections; i++) {
        const section_t *o = m->sections[i];
        if (o->has_t0 && o->trace == trace && o->t0_ns < t0)
            t0 = o->t0_ns;
    }
    if (m->tree && m->tree->t0_ns >= 0 && !strcmp(m->tree->trace, trace) && m->tree->t0_ns < t0)
        t0 = m->tree->t0_ns;
    return t0;
}

/* ns added to a section's times to put it on the plot's clock. */
static long long offset_of(const model_t *m, const section_t *s)
{
    if (!s->has_t0)
        return 0;
    return s->t0_ns - trace_origin(m, s->trace, s->t0_ns);
}

/* The same for the process tree's samples. */
static long long tree_offset(const model_t *m)
{
    return m->tree->t0_ns - trace_origin(m, m->tree->trace, m->tree->t0_ns);
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
    int d, bottom = f->top + PLOT_H;

    fprintf(out, "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n");
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#999\"/>\n", LEFT, f->top, PLOT_W, PLOT_H);
    step = nice_step(f->t_max, 8);
    d = decimals(step);
    for (v = 0; v <= f->t_max * 1.0000001; v += step) {
        double x = px(f, v);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n",
                x, f->top, x, bottom + 5, x, bottom + 18, d, v);
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
            "font-size=\"14\">Time (s)</text>\n", LEFT + PLOT_W / 2, bottom + 36);
    fprintf(out, "<text class=\"ylabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\" "
            "transform=\"rotate(-90 %d %d)\">Memory (MiB)</text>\n</g>\n",
            LEFT - 60, f->top + PLOT_H / 2, LEFT - 60, f->top + PLOT_H / 2);
}

/* ---- memory over time, per process and summed ---- */

/* A curve on the plot's pixel columns: the highest value per column, and
 * whether the process was alive there (between its first and last point). */
typedef struct columns {
    double v[PLOT_W + 1];
    bool alive[PLOT_W + 1];
} columns_t;

static int column_of(const frame_t *f, long long t_ns)
{
    int c = (int)((double)t_ns / 1e9 / f->t_max * PLOT_W);
    return c < 0 ? 0 : c > PLOT_W ? PLOT_W : c;
}

/* Adds section S's curve to SUM, column by column: a column between two
 * points holds the earlier value (RSS stays until the next reading). */
static void add_columns(columns_t *sum, const frame_t *f, const timeline_point_t *p, size_t n,
                        long long off)
{
    double col_max[PLOT_W + 1];
    bool seen[PLOT_W + 1];
    int c, first, last;
    size_t i;
    double carry = 0;

    if (n == 0)
        return;
    memset(seen, 0, sizeof seen);
    for (i = 0; i < n; i++) {
        c = column_of(f, p[i].t + off);
        double v = (double)p[i].v / 1048576.0;
        if (!seen[c] || v > col_max[c])
            col_max[c] = v;
        seen[c] = true;
    }
    first = column_of(f, p[0].t + off);
    last = column_of(f, p[n - 1].t + off);
    for (c = first; c <= last; c++) {
        if (seen[c])
            carry = col_max[c];
        sum->v[c] += carry;
        sum->alive[c] = true;
    }
}

static void column_curve(FILE *out, const frame_t *f, const columns_t *cols, const char *colour,
                         const char *attrs)
{
    bool any = false;
    int c;

    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\"%s points=\"", colour, attrs);
    for (c = 0; c <= PLOT_W; c++) {
        if (!cols->alive[c])
            continue;
        fprintf(out, "%s%d,%.1f", any ? " " : "", LEFT + c, py(f, cols->v[c]));
        any = true;
    }
    fputs("\"/>\n", out);
}

static double columns_max(const columns_t *cols)
{
    double top = 0;
    for (int c = 0; c <= PLOT_W; c++)
        if (cols->alive[c] && cols->v[c] > top)
            top = cols->v[c];
    return top;
}

/* One process's curve: the lowest and highest point per pixel column, in
 * time order. */
static void curve(FILE *out, const frame_t *f, const timeline_point_t *p, size_t n, long long off,
                  const char *colour, const char *attrs)
{
    long long col = -1;
    size_t i, lo = 0, hi = 0;
    bool any = false;

    if (n == 0)
        return;
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\"%s points=\"", colour, attrs);
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

/* The section's memory curve from its samples and its events together, in
 * time order: a worker killed by its pool loses its last second of samples
 * but not its events.  OUT has room for 4 * TIMELINE_BUCKETS points, the
 * second half of it scratch. */
static size_t all_points(const section_t *s, timeline_point_t *out)
{
    timeline_point_t *ev = out + 2 * TIMELINE_BUCKETS, *sm = out + 3 * TIMELINE_BUCKETS;
    size_t ne, nsm, i = 0, j = 0, n = 0;

    if (!s->sample_rss->count || !s->event_rss->count)
        return section_rss_points(s, out);
    /* Each timeline gives at most 2 * TIMELINE_BUCKETS; halve them into
     * the scratch, which holds TIMELINE_BUCKETS each. */
    ne = timeline_points(s->event_rss, out);
    for (i = 0; i < ne; i += 2)
        ev[i / 2] = i + 1 < ne && out[i + 1].v > out[i].v ? out[i + 1] : out[i];
    ne = (ne + 1) / 2;
    nsm = timeline_points(s->sample_rss, out);
    for (i = 0; i < nsm; i += 2)
        sm[i / 2] = i + 1 < nsm && out[i + 1].v > out[i].v ? out[i + 1] : out[i];
    nsm = (nsm + 1) / 2;
    for (i = j = 0; i < ne || j < nsm;)
        out[n++] = j >= nsm || (i < ne && ev[i].t <= sm[j].t) ? ev[i++] : sm[j++];
    return n;
}

/* ---- the legend ---- */

/* An entry: a short line in COLOUR, then TEXT (plain ASCII made here),
 * NAME (a command line, escaped on output) and TAIL. */
typedef struct entry {
    const char *colour, *dash;
    char text[160];
    const char *name;
    size_t name_len;
    const char *tail;
} entry_t;

static int entry_width(const entry_t *e)
{
    return 26 + CHAR_W * (int)(strlen(e->text) + e->name_len + strlen(e->tail)) + 18;
}

/* Lays the entries out in rows from LEFT; with OUT, draws them with their
 * first row's baseline at Y0.  Returns the number of rows. */
static int legend(FILE *out, const entry_t *e, size_t n, int y0)
{
    int x = LEFT, row = 0;

    for (size_t i = 0; i < n; i++) {
        int w = entry_width(&e[i]);
        if (x > LEFT && x + w > SVG_WIDTH - RIGHT) {
            x = LEFT;
            row++;
        }
        if (out) {
            int y = y0 + row * LEGEND_ROW;
            fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"2.5\"%s/>", x, y - 4, x + 20, y - 4, e[i].colour, e[i].dash);
            fprintf(out, "<text class=\"legend\" x=\"%d\" y=\"%d\" font-size=\"12\" "
                    "fill=\"#222\">%s", x + 26, y, e[i].text);
            if (e[i].name)
                text_html(out, e[i].name, e[i].name_len);
            fprintf(out, "%s</text>\n", e[i].tail);
        }
        x += w;
    }
    return n ? row + 1 : 0;
}

/* ---- the lanes of the profiled functions ---- */

typedef struct lane {
    const char *name;           /* table_display_name of its first table */
    long long file_id;          /* with the section, to tell same-named functions apart */
    const char *path;
    double busy;                /* seconds inside it, for choosing lanes */
    long long first;            /* earliest start on the plot's clock, ns */
} lane_t;

static const char *table_path(const section_t *s, const func_table_t *t)
{
    const file_def_t *f = section_file(s, t->file_id);
    return f ? section_display_path(s, f) : "";
}

/* A path as short as it can be said: relative to the process's working
 * directory when under it (a spawned worker's script is absolute). */
static const char *short_path(const section_t *s, const char *path)
{
    size_t n = s->cwd ? strlen(s->cwd) : 0;
    if (n && !strncmp(path, s->cwd, n) && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}

/* The lane of table TAB of section S (a function is one lane across all
 * processes: the workers of a pool run the same functions). */
static size_t lane_of(lane_t *lanes, size_t *n, const section_t *s, size_t tab)
{
    const func_table_t *t = &s->tables[tab];
    const char *name = table_display_name(t), *path = table_path(s, t);
    size_t i;

    for (i = 0; i < *n; i++)
        if (!strcmp(lanes[i].name, name) && !strcmp(lanes[i].path, path))
            return i;
    lanes[*n] = (lane_t){.name = name, .path = path, .first = -1};
    return (*n)++;
}

static int by_first_start(const void *a, const void *b)
{
    const lane_t *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

static int by_busy(const void *a, const void *b)
{
    const lane_t *x = a, *y = b;
    return (x->busy < y->busy) - (x->busy > y->busy);
}

static void bar(FILE *out, double x0, double x1, int y, const char *colour, const lane_t *lane,
                long long pid)
{
    if (x1 - x0 < 1.5)
        x1 = x0 + 1.5;
    fprintf(out, "<rect class=\"span\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
            "fill=\"%s\" fill-opacity=\"0.8\"><title>", x0, y + 2, x1 - x0, LANE_H - 4, colour);
    text_html(out, lane->name, strlen(lane->name));
    fprintf(out, " (pid %lld)</title></rect>\n", pid);
}

/* The bars of section S: each span in its function's lane (LANE_FOR maps
 * a table to its lane, or to SIZE_MAX when not shown), neighbours closer
 * than a pixel merged so that a function called a million times is a few
 * bars.  X0/X1 are scratch, one per lane. */
static void section_bars(FILE *out, const frame_t *f, const section_t *s, long long off,
                         const size_t *lane_for, const lane_t *lanes, size_t nlanes, int lanes_y,
                         const char *colour, double *x0, double *x1)
{
    size_t i, l;

    for (l = 0; l < nlanes; l++)
        x0[l] = x1[l] = -1;
    for (i = 0; i < s->nspans; i++) {
        const span_t *sp = &s->spans[i];
        double a, b;

        l = lane_for[sp->table];
        if (l == (size_t)-1)
            continue;
        a = px(f, (double)(sp->start + off) / 1e9);
        b = px(f, (double)(sp->end + off) / 1e9);
        if (x0[l] >= 0 && a <= x1[l] + 1) {
            if (b > x1[l])
                x1[l] = b;
            continue;
        }
        if (x0[l] >= 0)
            bar(out, x0[l], x1[l], lanes_y + (int)l * LANE_H, colour, &lanes[l], s->pid);
        x0[l] = a;
        x1[l] = b;
    }
    for (l = 0; l < nlanes; l++)
        if (x0[l] >= 0)
            bar(out, x0[l], x1[l], lanes_y + (int)l * LANE_H, colour, &lanes[l], s->pid);
}

/* Bytes of the first MAX characters of S (whole UTF-8 sequences). */
static size_t prefix_chars(const char *s, size_t len, size_t max)
{
    size_t at = 0, chars = 0;
    unsigned cp;

    while (at < len && chars < max) {
        size_t k = utf8_decode((const unsigned char *)s + at, len - at, &cp);
        at += k ? k : 1;
        chars++;
    }
    return at;
}

static void lane_label(FILE *out, const lane_t *lane, int y)
{
    size_t len = strlen(lane->name);
    size_t shown = prefix_chars(lane->name, len, NAME_LEN);

    /* The full name and file on hover, outside the text, so that the
     * text is the name alone. */
    fputs("<g><title>", out);
    text_html(out, lane->name, len);
    fputs(" (", out);
    text_html(out, lane->path, strlen(lane->path));
    fprintf(out, ")</title><text class=\"lane\" x=\"%d\" y=\"%d\" font-size=\"11\" "
            "fill=\"#222\" text-anchor=\"end\">", LEFT - 6, y + LANE_H - 3);
    text_html(out, lane->name, shown);
    fprintf(out, "%s</text></g>\n", shown < len ? "..." : "");
}

/* ---- the lanes of the named spans (profile.timestamp) ---- */

/* Named spans come after the functions, in lanes of their own, one per
 * name, laid out as the functions' are: a name in one place, bars that
 * never hold text, nested or repeated spans of one name merged. */
static const char timestamp_kind[] = "profile.timestamp";

static size_t timestamp_lane_of(lane_t *lanes, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(lanes[i].name, name))
            return i;
    lanes[*n] = (lane_t){.name = name, .path = timestamp_kind, .first = -1};
    return (*n)++;
}

/* The lanes of every section's named spans, in the order they first
 * started (the busiest MAX_LANES if more).  Returns how many are shown;
 * *ALL gets how many there are. */
static size_t timestamp_lanes(const model_t *m, lane_t *lanes, size_t *all,
                              long long (*offset)(const model_t *, const section_t *))
{
    size_t n = 0, shown;
    for (size_t i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        long long off = offset(m, s);
        for (size_t j = 0; j < s->ntimestamps; j++) {
            const named_span_t *ts = &s->timestamps[j];
            lane_t *l = &lanes[timestamp_lane_of(lanes, &n, ts->name)];
            l->busy += (double)(ts->end - ts->start) / 1e9;
            if (l->first < 0 || ts->start + off < l->first)
                l->first = ts->start + off;
        }
    }
    *all = shown = n;
    if (n > MAX_LANES) {
        qsort(lanes, n, sizeof *lanes, by_busy);
        shown = MAX_LANES;
    }
    qsort(lanes, shown, sizeof *lanes, by_first_start);
    return shown;
}

static void timestamp_bar(FILE *out, double x0, double x1, int y, const char *colour,
                          const named_span_t *ts, long long pid)
{
    if (x1 - x0 < 1.5)
        x1 = x0 + 1.5;
    fprintf(out, "<rect class=\"timestamp\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
            "fill=\"%s\" fill-opacity=\"0.55\" stroke=\"%s\"><title>", x0, y + 2, x1 - x0,
            LANE_H - 4, colour, colour);
    text_html(out, ts->name, strlen(ts->name));
    fprintf(out, " (pid %lld): %.4g s", pid, (double)(ts->end - ts->start) / 1e9);
    if (ts->rss_start >= 0 && ts->rss_end >= 0)
        fprintf(out, ", %.1f to %.1f MiB", (double)ts->rss_start / 1048576.0,
                (double)ts->rss_end / 1048576.0);
    fputs("</title></rect>\n", out);
}

/* Section S's named spans in their lanes; spans of one lane closer than a
 * pixel are one bar (whose title is the first span's). */
static void section_timestamps(FILE *out, const frame_t *f, const section_t *s, long long off,
                               const lane_t *lanes, size_t shown, int lanes_y, const char *colour)
{
    double x0 = -1, x1 = -1;
    const named_span_t *first = NULL;

    for (size_t l = 0; l < shown; l++) {
        x0 = x1 = -1;
        first = NULL;
        for (size_t j = 0; j < s->ntimestamps; j++) {
            const named_span_t *ts = &s->timestamps[j];
            if (strcmp(ts->name, lanes[l].name))
                continue;
            double a = px(f, (double)(ts->start + off) / 1e9), b = px(f, (double)(ts->end + off) / 1e9);
            if (first && a <= x1 + 1 && b >= x0 - 1) {
                if (a < x0)
                    x0 = a;
                if (b > x1)
                    x1 = b;
                continue;
            }
            if (first)
                timestamp_bar(out, x0, x1, lanes_y + (int)l * LANE_H, colour, first, s->pid);
            first = ts;
            x0 = a;
            x1 = b;
        }
        if (first)
            timestamp_bar(out, x0, x1, lanes_y + (int)l * LANE_H, colour, first, s->pid);
    }
}

/* ---- the process tree, sampled from outside (--include-children) ---- */

/* Processes of the tree drawn with lines of their own (--multiprocess): at
 * most this many, the largest; the rest are in the total only. */
#define TREE_LINES 8

static bool has_section(const model_t *m, long long pid)
{
    for (size_t i = 0; i < m->nsections; i++)
        if (m->sections[i]->pid == pid)
            return true;
    return false;
}

/* The tree's processes to draw (OUT, indexes into m->tree->procs): those
 * with no section of their own (an agent's section draws its process
 * already) that reached 1 MiB and a twentieth of the total, the largest
 * first.  Returns how many; *MORE
 * gets how many others were left to the total. */
static size_t tree_lines(const model_t *m, size_t *out, size_t *more)
{
    const process_tree_t *t = m->tree;
    size_t n = 0;
    *more = t->dropped;
    if (!t->per_process)
        return 0;
    for (size_t i = 0; i < t->nprocs; i++) {
        /* Small ones (a shell, the pyenv shim's bash) only in the total. */
        long long v = t->procs[i].rss->max;
        if (has_section(m, t->procs[i].pid))
            continue;
        if (v < 1048576 || v < t->total->max / 20) {
            (*more)++;
            continue;
        }
        size_t at = n < TREE_LINES ? n++ : TREE_LINES;
        if (at == TREE_LINES) {
            /* full: replace the smallest if this one is larger */
            size_t low = 0;
            for (size_t k = 1; k < TREE_LINES; k++)
                if (t->procs[out[k]].rss->max < t->procs[out[low]].rss->max)
                    low = k;
            (*more)++;
            if (t->procs[out[low]].rss->max >= t->procs[i].rss->max)
                continue;
            at = low;
        }
        out[at] = i;
    }
    for (size_t a = 1; a < n; a++)      /* largest first */
        for (size_t b = a; b > 0 && t->procs[out[b]].rss->max > t->procs[out[b - 1]].rss->max; b--) {
            size_t x = out[b];
            out[b] = out[b - 1];
            out[b - 1] = x;
        }
    return n;
}

/* ---- the whole picture ---- */

typedef struct group {
    size_t first, members;      /* its first section, how many */
    long long lo, hi;           /* the lowest and highest pid */
    columns_t sum;              /* the members' RSS summed */
} group_t;

static void group_text(char *buf, size_t cap, const model_t *m, const group_t *gr)
{
    const section_t *s = m->sections[gr->first];
    if (gr->members == 1)
        snprintf(buf, cap, "pid %lld: ", s->pid);
    else
        snprintf(buf, cap, "%zu processes summed (pids %lld-%lld, parent %lld): ", gr->members,
                 gr->lo, gr->hi, s->ppid);
}

static const char *const plain_dash = "";

int render_svg(FILE *out, const model_t *m, bool standalone, bool split_processes)
{
    size_t ns = m->nsections ? m->nsections : 1;
    timeline_point_t *pts = malloc(4 * TIMELINE_BUCKETS * sizeof *pts);
    size_t *group_of = malloc(ns * sizeof *group_of);
    group_t *groups = calloc(ns, sizeof *groups);
    columns_t *total = calloc(1, sizeof *total);
    entry_t *entries = calloc(ns + 2 + TREE_LINES, sizeof *entries);
    lane_t *lanes = NULL;
    size_t *lane_for = NULL;
    double *x0 = NULL, *x1 = NULL;
    frame_t f = {0, 0, 0};
    const section_t *peak_s = NULL;
    long long peak_off = 0;
    size_t i, j, n, ngroups, nlanes = 0, maxtables = 0, alltables = 0, shown, nentries = 0;
    lane_t *ts_lanes = NULL;
    size_t alltimestamps = 0, ts_all = 0, ts_shown;
    int rc = -1;

    for (i = 0; i < m->nsections; i++) {
        alltables += m->sections[i]->ntables;
        if (m->sections[i]->ntables > maxtables)
            maxtables = m->sections[i]->ntables;
    }
    for (i = 0; i < m->nsections; i++)
        alltimestamps += m->sections[i]->ntimestamps;
    lanes = calloc(alltables ? alltables : 1, sizeof *lanes);
    ts_lanes = calloc(alltimestamps ? alltimestamps : 1, sizeof *ts_lanes);
    lane_for = malloc((maxtables ? maxtables : 1) * sizeof *lane_for);
    x0 = malloc((alltables ? alltables : 1) * sizeof *x0);
    x1 = malloc((alltables ? alltables : 1) * sizeof *x1);
    if (!pts || !group_of || !groups || !total || !entries || !lanes || !lane_for || !x0 || !x1
        || !ts_lanes)
        goto done;

    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        double end = (double)(s->t_last + offset_of(m, s)) / 1e9;
        for (j = 0; j < s->ntimestamps; j++)
            if ((double)(s->timestamps[j].end + offset_of(m, s)) / 1e9 > end)
                end = (double)(s->timestamps[j].end + offset_of(m, s)) / 1e9;
        if (end > f.t_max)
            f.t_max = end;
        if ((double)s->peak_rss / 1048576.0 > f.y_max)
            f.y_max = (double)s->peak_rss / 1048576.0;
        if (!peak_s || s->peak_rss > peak_s->peak_rss) {
            peak_s = s;
            peak_off = offset_of(m, s);
        }
    }
    if (m->tree && m->tree->total->count) {
        double end = (double)(m->tree->t_last + tree_offset(m)) / 1e9;
        if (end > f.t_max)
            f.t_max = end;
        if ((double)m->tree->total->max / 1048576.0 > f.y_max)
            f.y_max = (double)m->tree->total->max / 1048576.0;
    }
    f.t_max = f.t_max > 0 ? f.t_max * 1.02 : 1;

    /* The groups (a pool's workers, unless split) and their sums; the
     * total when there is more than one process. */
    ngroups = model_process_groups(m, split_processes, group_of);
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        group_t *g = &groups[group_of[i]];
        if (g->members++ == 0) {
            g->first = i;
            g->lo = g->hi = s->pid;
        }
        if (s->pid < g->lo)
            g->lo = s->pid;
        if (s->pid > g->hi)
            g->hi = s->pid;
        n = all_points(s, pts);
        add_columns(&g->sum, &f, pts, n, offset_of(m, s));
        add_columns(total, &f, pts, n, offset_of(m, s));
    }
    for (i = 0; i < ngroups; i++)
        if (groups[i].members > 1 && columns_max(&groups[i].sum) > f.y_max)
            f.y_max = columns_max(&groups[i].sum);
    if (m->nsections > 1 && columns_max(total) > f.y_max)
        f.y_max = columns_max(total);
    f.y_max = f.y_max > 0 ? f.y_max * 1.15 : 1;

    /* Lanes: one per function, in the order they first ran; the busiest
     * MAX_LANES if there are more. */
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        long long off = offset_of(m, s);
        for (j = 0; j < s->ntables; j++)
            if (s->tables[j].thread < 0)
                lane_of(lanes, &nlanes, s, j);
        for (j = 0; j < s->nspans; j++) {
            const span_t *sp = &s->spans[j];
            lane_t *l = &lanes[lane_of(lanes, &nlanes, s, sp->table)];
            l->busy += (double)(sp->end - sp->start) / 1e9;
            if (l->first < 0 || sp->start + off < l->first)
                l->first = sp->start + off;
        }
    }
    /* Functions that never ran a span (snapshots only) have no bar. */
    for (i = j = 0; i < nlanes; i++)
        if (lanes[i].first >= 0)
            lanes[j++] = lanes[i];
    nlanes = j;
    shown = nlanes;
    if (nlanes > MAX_LANES) {
        qsort(lanes, nlanes, sizeof *lanes, by_busy);
        shown = MAX_LANES;
    }
    qsort(lanes, shown, sizeof *lanes, by_first_start);
    ts_shown = timestamp_lanes(m, ts_lanes, &ts_all, offset_of);

    /* The legend's entries, laid out before anything is drawn. */
    bool tree_total = m->tree && m->tree->total->count;
    if (tree_total) {
        entry_t *e = &entries[nentries++];
        e->colour = TOTAL_COLOUR;
        e->dash = " stroke-dasharray=\"6 3\"";
        snprintf(e->text, sizeof e->text, "process tree total, sampled from outside every %.4g ms "
                 "(highest %.1f MiB)", (double)m->tree->interval_ns / 1e6,
                 (double)m->tree->total->max / 1048576.0);
        e->tail = "";
    } else if (m->nsections > 1) {
        entry_t *e = &entries[nentries++];
        e->colour = TOTAL_COLOUR;
        e->dash = " stroke-dasharray=\"6 3\"";
        snprintf(e->text, sizeof e->text, "total of %zu processes (highest %.1f MiB)",
                 m->nsections, columns_max(total));
        e->tail = "";
    }
    for (size_t g = 0; g < ngroups; g++) {
        const section_t *s = m->sections[groups[g].first];
        size_t len = strlen(s->command);
        bool heap = groups[g].members == 1 && s->sample_heap->count;
        entry_t *e = &entries[nentries++];
        e->colour = palette[g % NPALETTE];
        e->dash = plain_dash;
        group_text(e->text, sizeof e->text, m, &groups[g]);
        e->name = s->command;
        e->name_len = prefix_chars(s->command, len, LEGEND_LEN);
        e->tail = e->name_len < len ? (heap ? "... (dashed: heap)" : "...")
                                    : (heap ? " (dashed: heap)" : "");
    }
    /* The tree's processes without a section, each a line of its own. */
    size_t tree_procs[TREE_LINES], ntree = 0, tree_more = 0;
    if (tree_total)
        ntree = tree_lines(m, tree_procs, &tree_more);
    for (size_t k = 0; k < ntree; k++) {
        const tree_proc_t *tp = &m->tree->procs[tree_procs[k]];
        const char *command = tp->command ? tp->command : "";
        size_t len = strlen(command);
        entry_t *e = &entries[nentries++];
        e->colour = palette[(ngroups + k) % NPALETTE];
        e->dash = " stroke-dasharray=\"1 2\"";
        snprintf(e->text, sizeof e->text, "pid %lld (from outside): ", tp->pid);
        e->name = command;
        e->name_len = prefix_chars(command, len, LEGEND_LEN);
        e->tail = e->name_len < len ? "..." : "";
    }
    if (tree_more) {
        entry_t *e = &entries[nentries++];
        e->colour = "#bbbbbb";
        e->dash = " stroke-dasharray=\"1 2\"";
        snprintf(e->text, sizeof e->text, "%zu more processes of the tree, in the total only",
                 tree_more);
        e->tail = "";
    }
    f.top = 34 + legend(NULL, entries, nentries, 0) * LEGEND_ROW + 8;

    int lanes_top = f.top + PLOT_H + 50;
    int lanes_y = lanes_top + 18;
    int lanes_end = lanes_y + (int)shown * LANE_H;
    /* The named spans' block under the functions' (or in its place). */
    int ts_top = nlanes ? lanes_end + (nlanes > shown ? 20 : 0) + 10 : lanes_top;
    int ts_y = ts_top + 18;
    int ts_end = ts_y + (int)ts_shown * LANE_H;
    int blocks_end = ts_all ? ts_end + (ts_all > ts_shown ? 20 : 0)
                   : nlanes ? lanes_end + (nlanes > shown ? 20 : 0) : f.top + PLOT_H + 44;
    int height = blocks_end + 12;

    if (standalone)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", SVG_WIDTH, height,
            SVG_WIDTH, height);
    fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", SVG_WIDTH, height);
    fputs("<title>memprof: ", out);
    if (m->nsections)
        text_html(out, m->sections[0]->command, strlen(m->sections[0]->command));
    fputs("</title>\n", out);
    fprintf(out, "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">memory over time"
            "</text>\n", LEFT);
    legend(out, entries, nentries, 40);
    axes(out, &f);

    /* Curves: a group's members faint under its sum, so that each worker
     * can still be picked out (its pid on hover; --processes split draws
     * each in full). */
    for (size_t g = 0; g < ngroups; g++) {
        const group_t *gr = &groups[g];
        const char *colour = palette[g % NPALETTE];

        for (i = 0; i < m->nsections; i++) {
            const section_t *mem = m->sections[i];
            if (group_of[i] != g)
                continue;
            n = all_points(mem, pts);
            if (gr->members > 1) {
                fprintf(out, "<g class=\"member\"><title>pid %lld</title>\n", mem->pid);
                curve(out, &f, pts, n, offset_of(m, mem), colour,
                      " stroke-width=\"1\" stroke-opacity=\"0.35\"");
                fputs("</g>\n", out);
                continue;
            }
            curve(out, &f, pts, n, offset_of(m, mem), colour, " stroke-width=\"1.8\"");
            if (mem->sample_heap->count) {
                n = timeline_points(mem->sample_heap, pts);
                curve(out, &f, pts, n, offset_of(m, mem), colour,
                      " stroke-width=\"1.5\" stroke-dasharray=\"4 3\"");
            }
        }
        if (gr->members > 1)
            column_curve(out, &f, &gr->sum, colour, " stroke-width=\"2\" class=\"group\"");
    }
    if (tree_total) {
        long long off = tree_offset(m);
        for (size_t k = 0; k < ntree; k++) {
            const tree_proc_t *tp = &m->tree->procs[tree_procs[k]];
            fprintf(out, "<g class=\"tree-process\"><title>pid %lld</title>\n", tp->pid);
            n = timeline_points(tp->rss, pts);
            curve(out, &f, pts, n, off, palette[(ngroups + k) % NPALETTE],
                  " stroke-width=\"1.5\" stroke-dasharray=\"1 2\"");
            fputs("</g>\n", out);
        }
        n = timeline_points(m->tree->total, pts);
        curve(out, &f, pts, n, off, TOTAL_COLOUR,
              " stroke-width=\"1.5\" stroke-dasharray=\"6 3\" class=\"tree-total\"");
    } else if (m->nsections > 1) {
        column_curve(out, &f, total, TOTAL_COLOUR,
                     " stroke-width=\"1.5\" stroke-dasharray=\"6 3\" class=\"total\"");
    }

    /* The peak: one process's highest RSS, and the line that ran then. */
    if (peak_s && peak_s->peak_rss > 0) {
        double t = (double)(peak_s->peak_t + peak_off) / 1e9;
        double x = px(&f, t), y = py(&f, (double)peak_s->peak_rss / 1048576.0);
        bool right_half = x > LEFT + PLOT_W / 2;

        fprintf(out, "<line class=\"peak-time\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%d\" "
                "stroke=\"#555\" stroke-dasharray=\"2 3\"/>\n", x, y + 4, x,
                ts_all ? ts_end : nlanes ? lanes_end : f.top + PLOT_H);
        fprintf(out, "<circle class=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" "
                "stroke=\"black\" stroke-width=\"1.5\"/>\n<text class=\"peak-label\" x=\"%.1f\" "
                "y=\"%.1f\" font-size=\"12\" text-anchor=\"%s\" stroke=\"white\" stroke-width=\"4\" "
                "paint-order=\"stroke\">peak %.3f MiB at %.4g s",
                x, y, right_half ? x - 8 : x + 8, y - 7, right_half ? "end" : "start",
                (double)peak_s->peak_rss / 1048576.0, t);
        if (peak_s->peak_table) {
            const func_table_t *pt = &peak_s->tables[peak_s->peak_table - 1];
            const char *path = short_path(peak_s, table_path(peak_s, pt));
            const char *name = table_display_name(pt);
            fputs(", ", out);
            text_html(out, path, strlen(path));
            fprintf(out, ":%d in ", peak_s->peak_line);
            text_html(out, name, strlen(name));
        }
        if (m->nsections > 1)
            fprintf(out, " (pid %lld)", peak_s->pid);
        fputs("</text>\n", out);
    }

    if (nlanes) {
        fprintf(out, "<text class=\"lanes-title\" x=\"%d\" y=\"%d\" font-size=\"12\" "
                "fill=\"#333\">profiled functions: when each ran, in its process's colour"
                "</text>\n", LEFT, lanes_top + 12);
        for (j = 0; j < shown; j++) {
            int y = lanes_y + (int)j * LANE_H;
            if (j % 2 == 0)
                fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                        "fill=\"#f2f2f2\"/>\n", LEFT, y, PLOT_W, LANE_H);
            lane_label(out, &lanes[j], y);
        }
        for (i = 0; i < m->nsections; i++) {
            const section_t *s = m->sections[i];
            for (j = 0; j < s->ntables; j++) {
                const func_table_t *t = &s->tables[j];
                const char *name = table_display_name(t), *path = table_path(s, t);
                size_t l;
                lane_for[j] = (size_t)-1;
                for (l = 0; l < shown; l++)
                    if (!strcmp(lanes[l].name, name) && !strcmp(lanes[l].path, path))
                        lane_for[j] = l;
            }
            section_bars(out, &f, s, offset_of(m, s), lane_for, lanes, shown, lanes_y,
                         palette[group_of[i] % NPALETTE], x0, x1);
        }
        if (nlanes > shown)
            fprintf(out, "<text class=\"lanes-more\" x=\"%d\" y=\"%d\" font-size=\"12\" "
                    "fill=\"#333\">and %zu more functions, each busy for less time than these "
                    "(memprof-report --format json lists every span)</text>\n", LEFT,
                    lanes_end + 15, nlanes - shown);
    }
    if (ts_all) {
        fprintf(out, "<text class=\"timestamps-title\" x=\"%d\" y=\"%d\" font-size=\"12\" "
                "fill=\"#333\">profile.timestamp spans: when each ran, in its process's colour"
                "</text>\n", LEFT, ts_top + 12);
        for (j = 0; j < ts_shown; j++) {
            int y = ts_y + (int)j * LANE_H;
            if (j % 2 == 0)
                fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                        "fill=\"#f2f2f2\"/>\n", LEFT, y, PLOT_W, LANE_H);
            lane_label(out, &ts_lanes[j], y);
        }
        for (i = 0; i < m->nsections; i++)
            section_timestamps(out, &f, m->sections[i], offset_of(m, m->sections[i]), ts_lanes,
                               ts_shown, ts_y, palette[group_of[i] % NPALETTE]);
        if (ts_all > ts_shown)
            fprintf(out, "<text class=\"timestamps-more\" x=\"%d\" y=\"%d\" font-size=\"12\" "
                    "fill=\"#333\">and %zu more names, each spanning less time than these</text>\n",
                    LEFT, ts_end + 15, ts_all - ts_shown);
    }
    fputs("</svg>\n", out);
    rc = 0;
done:
    free(pts);
    free(group_of);
    free(groups);
    free(total);
    free(entries);
    free(lanes);
    free(ts_lanes);
    free(lane_for);
    free(x0);
    free(x1);
    return rc;
}
