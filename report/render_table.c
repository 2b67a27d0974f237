/*
 * render_table: see render_table.h.  C's "%*.*f" and Python's "{:w.pf}" both
 * round the exact binary value to nearest, ties to even, so printf gives the
 * same digits as memory_profiler, "-0.000" included.
 */
#include "render_table.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

#include "mp_table.h"
#include "rank.h"

static const char header_peak[] = "         Peak";
static const char header_heap[] = "    Allocated        Freed    Heap peak";

static void write_header(FILE *out, const render_options_t *o)
{
    char extra[sizeof header_peak + sizeof header_heap] = "", buf[256];

    if (o->peak)
        strcat(extra, header_peak);
    if (o->heap)
        strcat(extra, header_heap);
    mp_format_header(buf, sizeof buf, extra);
    fputs(buf, out);
}

/* One optional column appended to BUF (of CAP, holding a string): " %12s"
 * of a byte count in MiB, or blanks. */
static void add_bytes_cell(char *buf, size_t cap, bool has, long long bytes, int precision)
{
    char cell[400];
    size_t n = strlen(buf);

    if (!has) {
        snprintf(buf + n, cap - n, "%13s", "");
        return;
    }
    render_mib(cell, sizeof cell, (double)bytes / 1048576.0, precision);
    snprintf(buf + n, cap - n, " %12s", cell);
}

/* The Increment cell's colour, by its sign as printed. */
static const char *increment_colour(double value, const render_options_t *o)
{
    double unit = 0.5;
    int i;

    for (i = 0; i < o->precision; i++)
        unit /= 10;
    if (o->colour && (value >= unit || value <= -unit))
        return value < 0 ? COLOUR_SHRINK : COLOUR_GROW;
    return "";
}

int render_mib(char *buf, size_t cap, double mib, int precision)
{
    return mp_format_mib(buf, cap, mib, precision);
}

void render_function_table(FILE *out, const func_table_t *t, const char *filename,
                           const source_file_t *src, const render_options_t *o)
{
    /* A row's cells: at most 4 values of 400 bytes each, 2 colours. */
    char extra[4 * 400], cells_buf[8 * 400];
    int first, last;
    long long line;

    fputs("Filename: ", out);
    fputs_safe(out, filename);
    fputc('\n', out);
    /* --threads split: which thread this table is of. */
    if (t->thread >= 0) {
        fputs("Thread: ", out);
        fputs_safe(out, t->thread_name ? t->thread_name : "");
        fprintf(out, " (%lld)\n", t->thread);
    }
    fputc('\n', out);
    write_header(out, o);
    table_line_range(t, &first, &last);
    for (line = first; line <= last; line++) {
        const line_row_t *row = table_row(t, (int)line);
        const char *text;
        size_t len;

        if (row) {
            /* The optional columns, between Increment and Occurrences. */
            extra[0] = 0;
            if (o->peak)
                add_bytes_cell(extra, sizeof extra, row->has_peak, row->peak, o->precision);
            if (o->heap) {
                add_bytes_cell(extra, sizeof extra, row->has_heap, (long long)row->alloc, o->precision);
                add_bytes_cell(extra, sizeof extra, row->has_heap, (long long)row->freed, o->precision);
                add_bytes_cell(extra, sizeof extra, row->has_heap, row->heap_peak, o->precision);
            }
            const char *on = increment_colour(row->inc, o);
            mp_format_row(cells_buf, sizeof cells_buf, line, true, row->max, row->inc, row->count,
                          o->precision, on, *on ? COLOUR_OFF : "", extra, 0);
        } else {
            mp_format_row(cells_buf, sizeof cells_buf, line, false, 0, 0, 0, o->precision, "", "",
                          "", (o->peak ? 13 : 0) + (o->heap ? 39 : 0));
        }
        fputs(cells_buf, out);
        /* The line's own newline is not part of text. */
        if (src && source_line(src, (int)line, &text, &len))
            text_terminal(out, text, len);
        fputc('\n', out);
    }
    fputs("\n\n", out);
}

#define NBSP RENDER_NOTE_NBSP

/* Writes TEXT (NUL-terminated, single spaces) in lines of at most WIDTH
 * columns where it can, breaking at spaces; NBSP prints as a space. */
static void write_wrapped(FILE *out, const char *text, size_t width)
{
    size_t i;

    while (*text) {
        size_t len = strlen(text), cut = len;
        if (len > width) {
            for (cut = width; cut > 0 && text[cut] != ' '; cut--)
                ;
            if (cut == 0)
                cut = strcspn(text, " ");
        }
        for (i = 0; i < cut; i++)
            fputc(text[i] == NBSP ? ' ' : text[i], out);
        fputc('\n', out);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

int render_artefact_text(const func_table_t *t, const render_options_t *o, char **text)
{
    char *note = NULL, *costs = NULL, cell[400];
    size_t note_len = 0, costs_len = 0, n = 0, k = 0;
    FILE *lines, *values;
    int first, last, line;
    char *v;

    table_line_range(t, &first, &last);
    for (line = first; line <= last; line++) {
        const line_row_t *row = table_row(t, line);
        n += row && table_is_artefact(t, row);
    }
    *text = NULL;
    if (n == 0)
        return 0;
    lines = open_memstream(&note, &note_len);
    values = open_memstream(&costs, &costs_len);
    if (!lines || !values) {
        if (lines)
            fclose(lines);
        if (values)
            fclose(values);
        free(note);
        free(costs);
        return -1;
    }
    fprintf(lines, "Note: the Increment%s of line%s ", n == 1 ? "" : "s", n == 1 ? "" : "s");
    for (line = first; line <= last; line++) {
        const line_row_t *row = table_row(t, line);
        const char *sep = k == 0 ? "" : k + 1 == n ? " and " : ", ";
        if (!row || !table_is_artefact(t, row))
            continue;
        render_mib(cell, sizeof cell, row->cost, o->precision);
        for (v = cell; *v == ' '; v++)
            ;
        *strchr(v, ' ') = NBSP;
        fprintf(lines, "%s%d", sep, line);
        fprintf(values, "%s%s", sep, v);
        k++;
    }
    fclose(values);
    fprintf(lines, " %s compat artefact%s. memory_profiler's rule charges each run of a line "
            "against the largest Mem usage of the line that ran before it (0 if that line is not "
            "in this table); summed over %s runs, %s from what %s cost by more than the "
            "function's highest Mem usage (", n == 1 ? "is a" : "are", n == 1 ? "" : "s",
            n == 1 ? "its" : "their",
            n == 1 ? "this line's Increment differs" : "these lines' Increments differ",
            n == 1 ? "it" : "they");
    render_mib(cell, sizeof cell, table_highest(t), o->precision);
    v = cell + strspn(cell, " ");
    *strchr(v, ' ') = NBSP;
    fprintf(lines, "%s). What %s cost, the exact-mode Increment (memprof-report\x1f--mode\x1f"
            "exact): %s.", v, n == 1 ? "it" : "they", costs ? costs : "");
    fclose(lines);
    free(costs);
    if (!note)
        return -1;
    *text = note;
    return 0;
}

int render_artefact_note(FILE *out, const func_table_t *t, const render_options_t *o)
{
    char *note;

    if (render_artefact_text(t, o, &note))
        return -1;
    if (note) {
        write_wrapped(out, note, 79);
        fputc('\n', out);
        free(note);
    }
    return 0;
}

int render_tables(FILE *out, const model_t *m, source_cache_t *sources,
                  const render_options_t *o)
{
    size_t i, j;

    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];

        if (m->nsections > 1)
        {
            fprintf(out, "Process %lld (parent %lld): ", s->pid, s->ppid);
            fputs_safe(out, s->command);
            fputs("\n\n", out);
        }
        for (j = 0; j < s->ntables; j++) {
            const func_table_t *t = &s->tables[j];
            const file_def_t *f = section_file(s, t->file_id);
            const source_file_t *src;

            if (!t->measured)
                continue;
            src = source_cache_get(sources, f, s->cwd);
            if (!src)
                return -1;
            render_function_table(out, t, section_display_path(s, f), src, o);
            if (render_artefact_note(out, t, o))
                return -1;
        }
    }
    return 0;
}

static const char *location(const line_ref_t *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%d", section_display_path(r->s, section_file(r->s, r->t->file_id)),
             r->line);
    return buf;
}

int render_top(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o)
{
    char mem[400], inc[400], cost[400], loc[8192];
    int fw = (int)strlen("Function"), lw = (int)strlen("File:Line"), width;
    bool pids = m->nsections > 1;
    line_ref_t *refs;
    size_t n, i;

    if (rank_lines(m, RANK_COST, &refs, &n))
        return -1;
    if (n > o->top)
        n = o->top;
    for (i = 0; i < n; i++) {
        int a = (int)strlen(refs[i].t->name ? refs[i].t->name : "?");
        int b = (int)strlen(location(&refs[i], loc, sizeof loc));
        fw = a > fw ? a : fw;
        lw = b > lw ? b : lw;
    }
    fprintf(out, "Top %zu line%s by %s\n\n", n, n == 1 ? "" : "s", rank_measure(RANK_COST));
    width = fprintf(out, "%s   Exact inc    Increment    Mem usage  Occurrences   %-*s  %-*s  "
                    "Line Contents", pids ? "    PID " : "", fw, "Function", lw, "File:Line");
    fputc('\n', out);
    while (width-- > 0)
        fputc('=', out);
    fputc('\n', out);
    for (i = 0; i < n; i++) {
        const line_ref_t *r = &refs[i];
        const file_def_t *f = section_file(r->s, r->t->file_id);
        const source_file_t *src = source_cache_get(sources, f, r->s->cwd);
        const char *text;
        size_t len;

        if (!src) {
            free(refs);
            return -1;
        }
        render_mib(cost, sizeof cost, r->row->cost, o->precision);
        render_mib(mem, sizeof mem, r->row->max, o->precision);
        render_mib(inc, sizeof inc, r->row->inc, o->precision);
        if (pids)
            fprintf(out, "%7lld ", r->s->pid);
        fprintf(out, "%12s %12s %12s  %10llu   %-*s  %-*s  ", cost, inc, mem, r->row->count, fw,
                r->t->name ? r->t->name : "?", lw, location(r, loc, sizeof loc));
        if (source_line(src, r->line, &text, &len)) {
            while (len && (*text == ' ' || *text == '\t')) {
                text++;
                len--;
            }
            fwrite(text, 1, len, out);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
    free(refs);
    return 0;
}
