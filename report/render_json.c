/*
 * render_json: see render_json.h.  Written by hand rather than built as a
 * jansson tree: a report of many tables would otherwise be held twice, and
 * the numbers are printed as their shortest exact form (text_number), which
 * jansson's "%.17g" does not give.
 */
#include "render_json.h"

#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "text.h"

const char *table_display_name(const func_table_t *t)
{
    return t->name ? t->name : "?";
}

void json_key_number(FILE *out, const char *key, double v, int present)
{
    fprintf(out, "\"%s\": ", key);
    if (present)
        text_number(out, v);
    else
        fputs("null", out);
}

static void json_str(FILE *out, const char *s)
{
    text_json_string(out, s, strlen(s));
}

static double seconds(long long ns)
{
    return (double)ns / 1e9;
}

static double mib(long long bytes)
{
    return (double)bytes / 1048576.0;
}

static void write_row(FILE *out, const func_table_t *t, int line, const source_file_t *src,
                      bool first)
{
    const line_row_t *row = table_row(t, line);
    const char *text;
    size_t len;
    bool m = row != NULL;

    fprintf(out, "%s\n          {\"line\": %d, \"occurrences\": %llu, ", first ? "" : ",", line,
            m ? row->count : 0ULL);
    json_key_number(out, "mem_usage_mib", m ? row->max : 0, m);
    fputs(", ", out);
    json_key_number(out, "increment_mib", m ? row->inc : 0, m);
    fputs(", ", out);
    json_key_number(out, "exact_increment_mib", m ? row->cost : 0, m && t->has_cost);
    fprintf(out, ", \"compat_artefact\": %s, ", m && table_is_artefact(t, row) ? "true" : "false");
    json_key_number(out, "peak_mib", m ? mib(row->peak) : 0, m && row->has_peak);
    fputs(", ", out);
    json_key_number(out, "allocated_bytes", m ? (double)row->alloc : 0, m && row->has_heap);
    fputs(", ", out);
    json_key_number(out, "freed_bytes", m ? (double)row->freed : 0, m && row->has_heap);
    fputs(", ", out);
    json_key_number(out, "heap_peak_bytes", m ? (double)row->heap_peak : 0, m && row->has_heap);
    fputs(", \"contents\": ", out);
    if (src && source_line(src, line, &text, &len))
        text_json_string(out, text, len);
    else
        fputs("null", out);
    fputc('}', out);
}

static int write_functions(FILE *out, const section_t *s, source_cache_t *sources)
{
    size_t j;
    bool first_table = true;

    fputs("      \"functions\": [", out);
    for (j = 0; j < s->ntables; j++) {
        const func_table_t *t = &s->tables[j];
        const file_def_t *f = section_file(s, t->file_id);
        const source_file_t *src;
        double total = 0;
        int first, last, line;

        if (!t->measured)
            continue;
        src = source_cache_get(sources, f, s->cwd);
        if (!src)
            return -1;
        table_line_range(t, &first, &last);
        for (line = first; line <= last; line++)
            if (table_row(t, line))
                total += table_row(t, line)->inc;
        fprintf(out, "%s\n        {\"function\": ", first_table ? "" : ",");
        json_str(out, table_display_name(t));
        fputs(", \"filename\": ", out);
        json_str(out, section_display_path(s, f));
        fputs(", \"path\": ", out);
        json_str(out, f->path);
        if (f->path_hex) {
            /* The exact bytes of a name that is not UTF-8. */
            fputs(", \"path_hex\": ", out);
            json_str(out, f->path_hex);
        }
        fprintf(out, ", \"first_line\": %d, \"last_line\": %d, ", first, last);
        json_key_number(out, "total_increment_mib", total, 1);
        fputs(",\n         \"lines\": [", out);
        for (line = first; line <= last; line++)
            write_row(out, t, line, src, line == first);
        fputs("]}", out);
        first_table = false;
    }
    fputs(first_table ? "]" : "\n      ]", out);
    return 0;
}

/* "points": [[seconds, MiB], ...] */
static void write_point_list(FILE *out, const timeline_point_t *pts, size_t n)
{
    fputs("\"points\": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", [" : "[", out);
        text_number(out, seconds(pts[i].t));
        fputs(", ", out);
        text_number(out, mib(pts[i].v));
        fputc(']', out);
    }
    fputc(']', out);
}

static void write_timeline(FILE *out, const section_t *s)
{
    static timeline_point_t pts[2 * TIMELINE_BUCKETS];
    bool samples = s->sample_rss->count > 0, any = samples || s->event_rss->count > 0;
    size_t n = section_rss_points(s, pts);

    fprintf(out, "      \"timeline\": {\"source\": \"%s\", \"samples\": %llu, \"events\": %llu, ",
            samples ? "samples" : any ? "events" : "none", s->sample_rss->count,
            s->event_rss->count);
    json_key_number(out, "start_s", seconds(s->t_first), any);
    fputs(", ", out);
    json_key_number(out, "end_s", seconds(s->t_last), any);
    fputs(", ", out);
    json_key_number(out, "duration_s", seconds(s->t_last - s->t_first), any);
    fputs(", ", out);
    json_key_number(out, "peak_rss_mib", mib(s->peak_rss), s->peak_rss > 0);
    fputs(", ", out);
    json_key_number(out, "peak_t_s", seconds(s->peak_t), any && s->peak_rss > 0);
    fputs(", ", out);
    json_key_number(out, "heap_max_bytes", (double)s->sample_heap->max, s->sample_heap->count > 0);
    fputs(",\n        ", out);
    write_point_list(out, pts, n);
    fputc('}', out);
}

/* The spans the program named (profile.timestamp); the key only where
 * there are some. */
static void write_timestamps(FILE *out, const section_t *s)
{
    fputs("      \"timestamps\": [", out);
    for (size_t i = 0; i < s->ntimestamps; i++) {
        const named_span_t *ts = &s->timestamps[i];
        fprintf(out, "%s\n        {\"name\": ", i ? "," : "");
        json_str(out, ts->name);
        fputs(", ", out);
        json_key_number(out, "start_s", seconds(ts->start), 1);
        fputs(", ", out);
        json_key_number(out, "end_s", seconds(ts->end), 1);
        fputs(", ", out);
        json_key_number(out, "start_mib", mib(ts->rss_start), ts->rss_start >= 0);
        fputs(", ", out);
        json_key_number(out, "end_mib", mib(ts->rss_end), ts->rss_end >= 0);
        fprintf(out, ", \"depth\": %d}", ts->depth);
    }
    fputs("\n      ],\n", out);
}

static void write_spans(FILE *out, const section_t *s)
{
    size_t i;

    fputs("      \"spans\": [", out);
    for (i = 0; i < s->nspans; i++) {
        const span_t *sp = &s->spans[i];
        fprintf(out, "%s\n        {\"function\": ", i ? "," : "");
        json_str(out, table_display_name(&s->tables[sp->table]));
        fprintf(out, ", \"thread\": %lld, ", sp->thread);
        json_key_number(out, "start_s", seconds(sp->start), 1);
        fputs(", ", out);
        json_key_number(out, "end_s", seconds(sp->end), 1);
        fputs(", ", out);
        json_key_number(out, "duration_s", seconds(sp->end - sp->start), 1);
        fprintf(out, ", \"open\": %s}", sp->open ? "true" : "false");
    }
    fputs(s->nspans ? "\n      ]" : "]", out);
}

static void write_points(FILE *out, const timeline_t *tl)
{
    static timeline_point_t pts[2 * TIMELINE_BUCKETS];
    write_point_list(out, pts, timeline_points(tl, pts));
}

/* The launcher's samples of the whole process tree (--include-children):
 * times in seconds since its first sample (t0_ns, CLOCK_MONOTONIC as the
 * sections'). */
static void write_process_tree(FILE *out, const process_tree_t *t)
{
    fprintf(out, ",\n  \"process_tree\": {\"root\": %lld, \"t0_ns\": %lld, ", t->root, t->t0_ns);
    json_key_number(out, "interval_s", seconds(t->interval_ns), 1);
    fprintf(out, ", \"samples\": %llu, ", t->total->count);
    json_key_number(out, "peak_mib", mib(t->total->max), t->total->count > 0);
    fputs(",\n    ", out);
    write_points(out, t->total);
    fputs(",\n    \"processes\": [", out);
    for (size_t i = 0; t->per_process && i < t->nprocs; i++) {
        const tree_proc_t *p = &t->procs[i];
        fprintf(out, "%s\n      {\"pid\": %lld, \"ppid\": %lld, \"command\": ", i ? "," : "", p->pid,
                p->ppid);
        json_str(out, p->command ? p->command : "");
        fputs(", ", out);
        json_key_number(out, "peak_mib", mib(p->rss->max), p->rss->count > 0);
        fputs(", ", out);
        write_points(out, p->rss);
        fputc('}', out);
    }
    fprintf(out, "%s], \"processes_dropped\": %zu}", t->per_process && t->nprocs ? "\n    " : "",
            t->dropped);
}

static int write_top(FILE *out, const model_t *m, size_t top)
{
    line_ref_t *refs;
    size_t n, i;

    if (rank_lines(m, RANK_COST, &refs, &n))
        return -1;
    if (n > top)
        n = top;
    fputs(",\n  \"top\": [", out);
    for (i = 0; i < n; i++) {
        const line_ref_t *r = &refs[i];
        fprintf(out, "%s\n    {\"pid\": %lld, \"function\": ", i ? "," : "", r->s->pid);
        json_str(out, table_display_name(r->t));
        fputs(", \"filename\": ", out);
        json_str(out, section_display_path(r->s, section_file(r->s, r->t->file_id)));
        fprintf(out, ", \"line\": %d, \"occurrences\": %llu, ", r->line, r->row->count);
        json_key_number(out, "mem_usage_mib", r->row->max, 1);
        fputs(", ", out);
        json_key_number(out, "increment_mib", r->row->inc, 1);
        fputs(", ", out);
        json_key_number(out, "exact_increment_mib", r->row->cost, 1);
        fputc('}', out);
    }
    fputs(n ? "\n  ]" : "]", out);
    free(refs);
    return 0;
}

int render_json(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o)
{
    size_t i, a;

    fprintf(out, "{\n  \"memprof_report\": %d,\n  \"has_peak\": %s,\n  \"has_heap\": %s,\n"
            "  \"processes\": [", REPORT_JSON_VERSION, o->peak ? "true" : "false",
            o->heap ? "true" : "false");
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];

        fprintf(out, "%s\n    {\n      \"pid\": %lld,\n      \"ppid\": %lld,\n      \"argv\": [",
                i ? "," : "", s->pid, s->ppid);
        for (a = 0; a < s->argc; a++) {
            if (a)
                fputs(", ", out);
            json_str(out, s->argv[a]);
        }
        fputs("],\n      \"command\": ", out);
        json_str(out, s->command);
        fputs(",\n      \"trace\": ", out);
        json_str(out, s->trace);
        fprintf(out, ",\n      \"ended\": %s,\n", s->ended ? "true" : "false");
        write_timeline(out, s);
        fputs(",\n", out);
        write_spans(out, s);
        fputs(",\n", out);
        if (s->ntimestamps)
            write_timestamps(out, s);
        if (write_functions(out, s, sources))
            return -1;
        fputs("\n    }", out);
    }
    fputs(m->nsections ? "\n  ]" : "]", out);
    if (o->top && write_top(out, m, o->top))
        return -1;
    if (m->tree)
        write_process_tree(out, m->tree);
    fputs("\n}\n", out);
    return 0;
}
