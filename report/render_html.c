/*
 * render_html: see render_html.h.  The page has no script: it is a report
 * to read, print or attach to a bug, and CSS does all the presentation.
 */
#include "render_html.h"

#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "render_json.h"
#include "render_svg.h"
#include "text.h"

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}\n"
    "h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1.05em}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "th,td{padding:1px 8px;text-align:right;white-space:nowrap}\n"
    "th{border-bottom:2px solid #888;background:#f3f3f3}\n"
    "td.src{text-align:left;font-family:monospace;white-space:pre}\n"
    "td.fn,td.loc,th:last-child{text-align:left}\n"
    "tr.blank td{color:#999}\n"
    ".neg{color:#1a7f37}\n"
    ".note{color:#666}\n";

static void esc(FILE *out, const char *s)
{
    text_html(out, s, strlen(s));
}

static void mib_cell(FILE *out, double v, const render_options_t *o, bool signed_class)
{
    char buf[400];

    render_mib(buf, sizeof buf, v, o->precision);
    if (signed_class && v < 0)
        fprintf(out, "<td class=\"neg\">%s</td>", buf);
    else
        fprintf(out, "<td>%s</td>", buf);
}

static void source_cell(FILE *out, const source_file_t *src, int line, bool strip)
{
    const char *text;
    size_t len;

    fputs("<td class=\"src\">", out);
    if (src && source_line(src, line, &text, &len)) {
        while (strip && len && (*text == ' ' || *text == '\t')) {
            text++;
            len--;
        }
        text_html(out, text, len);
    }
    fputs("</td>", out);
}

static int top_table(FILE *out, const model_t *m, source_cache_t *sources,
                     const render_options_t *o, rank_by_t by)
{
    size_t limit = o->top ? o->top : HTML_TOP_DEFAULT, n, i;
    line_ref_t *refs;

    if (rank_lines(m, by, &refs, &n))
        return -1;
    if (n > limit)
        n = limit;
    fprintf(out, "<h2 id=\"top-%s\">Top lines by %s</h2>\n", by == RANK_PEAK ? "peak" : "increment",
            rank_measure(by));
    fprintf(out, "<table class=\"top\"><thead><tr><th>PID</th><th>Function</th><th>File:Line</th>"
            "<th>Exact inc</th><th>Increment</th><th>Mem usage</th>%s<th>Occurrences</th>"
            "<th>Line Contents</th></tr></thead><tbody>\n", by == RANK_PEAK ? "<th>Peak</th>" : "");
    for (i = 0; i < n; i++) {
        const line_ref_t *r = &refs[i];
        const file_def_t *f = section_file(r->s, r->t->file_id);
        const source_file_t *src = source_cache_get(sources, f, r->s->cwd);

        if (!src) {
            free(refs);
            return -1;
        }
        fprintf(out, "<tr><td>%lld</td><td class=\"fn\">", r->s->pid);
        esc(out, table_display_name(r->t));
        fputs("</td><td class=\"loc\">", out);
        esc(out, section_display_path(r->s, f));
        fprintf(out, ":%d</td>", r->line);
        if (r->t->has_cost)
            mib_cell(out, r->row->cost, o, true);
        else
            fputs("<td></td>", out);
        mib_cell(out, r->row->inc, o, true);
        mib_cell(out, r->row->max, o, false);
        if (by == RANK_PEAK)
            mib_cell(out, (double)r->row->peak / 1048576.0, o, false);
        fprintf(out, "<td>%llu</td>", r->row->count);
        source_cell(out, src, r->line, true);
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
    free(refs);
    return 0;
}

/* The lowest Peak among T's rows that have one (0 if none). */
static void peak_range_low(const func_table_t *t, double *lo)
{
    bool any = false;
    double key;

    *lo = 0;
    for (int line = t->min_seen; t->measured && line <= t->max_seen; line++) {
        const line_row_t *row = table_row(t, line);
        if (row && rank_key(t, row, RANK_PEAK, &key) && (!any || key < *lo)) {
            *lo = key;
            any = true;
        }
    }
}

static void line_table(FILE *out, const section_t *s, const func_table_t *t,
                       const source_file_t *src, const render_options_t *o)
{
    int first, last, line;
    double top_cost = rank_table_top(t, RANK_COST), cost;
    double peak_lo, peak_hi = rank_table_top(t, RANK_PEAK);

    peak_range_low(t, &peak_lo);

    table_line_range(t, &first, &last);
    fputs("<table class=\"lines\"><thead><tr><th>Line #</th><th>Mem usage</th><th>Increment</th>",
          out);
    if (o->peak)
        fputs("<th>Peak</th>", out);
    if (o->heap)
        fputs("<th>Allocated</th><th>Freed</th><th>Heap peak</th>", out);
    fputs("<th>Occurrences</th><th>Line Contents</th></tr></thead><tbody>\n", out);
    for (line = first; line <= last; line++) {
        const line_row_t *row = table_row(t, line);
        int cols = 3 + (o->peak ? 1 : 0) + (o->heap ? 3 : 0), c;

        if (!row) {
            fprintf(out, "<tr class=\"blank\"><td>%d</td>", line);
            for (c = 0; c < cols; c++)
                fputs("<td></td>", out);
        } else {
            /* Shaded by what the line cost, as the top lines are ranked. */
            double shade = top_cost > 0 && rank_key(t, row, RANK_COST, &cost) && cost > 0
                               ? cost / top_cost * 0.55 : 0;
            fprintf(out, "<tr style=\"background:rgba(230,80,20,%.3f)\"><td>%d</td>", shade, line);
            mib_cell(out, row->max, o, false);
            mib_cell(out, row->inc, o, true);
            if (o->peak) {
                /* Shaded by the peak ranking: how high within the function
                 * (a level, so from its lowest peak to its highest). */
                double key;
                if (row->has_peak && rank_key(t, row, RANK_PEAK, &key)) {
                    char buf[400];
                    render_mib(buf, sizeof buf, key, o->precision);
                    fprintf(out, "<td class=\"peak\" style=\"background:rgba(40,100,220,%.3f)\">"
                            "%s</td>", peak_hi > peak_lo ? (key - peak_lo) / (peak_hi - peak_lo)
                                                           * 0.5 : 0.0, buf);
                } else {
                    fputs("<td></td>", out);
                }
            }
            if (o->heap) {
                if (row->has_heap) {
                    mib_cell(out, (double)row->alloc / 1048576.0, o, false);
                    mib_cell(out, (double)row->freed / 1048576.0, o, false);
                    mib_cell(out, (double)row->heap_peak / 1048576.0, o, false);
                } else {
                    fputs("<td></td><td></td><td></td>", out);
                }
            }
            fprintf(out, "<td>%llu</td>", row->count);
        }
        source_cell(out, src, line, false);
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
    (void)s;
}

/* The text report's artefact note, under the table. */
static int artefact_note(FILE *out, const func_table_t *t, const render_options_t *o)
{
    char *note, *c;

    if (render_artefact_text(t, o, &note))
        return -1;
    if (!note)
        return 0;
    for (c = note; *c; c++)
        if (*c == RENDER_NOTE_NBSP)
            *c = ' ';
    fputs("<p class=\"note artefact\">", out);
    esc(out, note);
    fputs("</p>\n", out);
    free(note);
    return 0;
}

int render_html(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o)
{
    const char *command = m->nsections ? m->sections[0]->command : "";
    const section_t *missing = model_events_missing(m);
    size_t i, j;

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>memprof: ",
          out);
    esc(out, command);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>memprof: ", style);
    esc(out, command);
    fputs("</h1>\n<h2 id=\"timeline\">Memory over time</h2>\n", out);
    if (render_svg(out, m, false, o->plot_split))
        return -1;
    if (missing) {
        fputs("<h2 id=\"top-increment\">Top lines</h2>\n<p class=\"note\">Lines are not ranked "
              "or shaded: ", out);
        esc(out, missing->trace);
        fputs(" holds table snapshots only (MEMPROF_AGGREGATE=1), without the events that give "
              "what each line cost (the exact-mode increment, by which lines are ranked). Record "
              "it again with MEMPROF_AGGREGATE=both or 0.</p>\n", out);
    } else if (top_table(out, m, sources, o, RANK_COST)) {
        return -1;
    }
    if (o->peak) {
        if (top_table(out, m, sources, o, RANK_PEAK))
            return -1;
    } else {
        fputs("<p class=\"note\">The trace has no peaks (the agent measured RSS at each line "
              "only).</p>\n", out);
    }
    if (!missing)
        fprintf(out, "<p class=\"note shading\">Rows are shaded by what each line cost, the "
                "%s the top lines are ranked by%s.</p>\n", rank_measure(RANK_COST),
                o->peak ? "; Peak cells by the peak ranking, from the function's lowest peak "
                          "(unshaded) to its highest" : "");
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];

        fprintf(out, "<h2 class=\"process\">Process %lld (parent %lld): ", s->pid, s->ppid);
        esc(out, s->command);
        fputs("</h2>\n", out);
        for (j = 0; j < s->ntables; j++) {
            const func_table_t *t = &s->tables[j];
            const file_def_t *f = section_file(s, t->file_id);
            const source_file_t *src;

            if (!t->measured)
                continue;
            src = source_cache_get(sources, f, s->cwd);
            if (!src)
                return -1;
            fputs("<h3 class=\"function\">", out);
            esc(out, table_display_name(t));
            fputs(" <span class=\"note\">in ", out);
            esc(out, section_display_path(s, f));
            fputs("</span></h3>\n", out);
            line_table(out, s, t, src, o);
            if (artefact_note(out, t, o))
                return -1;
        }
    }
    fputs("</body>\n</html>\n", out);
    return 0;
}
