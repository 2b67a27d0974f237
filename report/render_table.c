/*
 * render_table: see render_table.h.  C's "%*.*f" and Python's "{:w.pf}" both
 * round the exact binary value to nearest, ties to even, so printf gives the
 * same digits as memory_profiler, "-0.000" included.
 */
#include "render_table.h"

#include <string.h>

static const char header[] =
    "Line #    Mem usage    Increment  Occurrences   Line Contents\n"
    "=============================================================\n";

int render_mib(char *buf, size_t cap, double mib, int precision)
{
    return snprintf(buf, cap, "%*.*f MiB", precision + 4, precision, mib);
}

void render_function_table(FILE *out, const func_table_t *t, const char *filename,
                           const source_file_t *src, const render_options_t *o)
{
    /* A double has at most 309 integer digits; 15 decimals, sign, " MiB". */
    char mem[400], inc[400];
    int first, last;
    long long line;

    fprintf(out, "Filename: %s\n\n", filename);
    fputs(header, out);
    table_line_range(t, &first, &last);
    for (line = first; line <= last; line++) {
        const line_row_t *row = table_row(t, (int)line);
        const char *text;
        size_t len;

        if (row) {
            render_mib(mem, sizeof mem, row->max, o->precision);
            render_mib(inc, sizeof inc, row->inc, o->precision);
            fprintf(out, "%6lld %12s %12s  %10llu   ", line, mem, inc, row->count);
        } else {
            fprintf(out, "%6lld%41s", line, "");
        }
        if (src && source_line(src, (int)line, &text, &len))
            fwrite(text, 1, len, out);
        fputc('\n', out);
    }
    fputs("\n\n", out);
}

int render_tables(FILE *out, const model_t *m, source_cache_t *sources,
                  const render_options_t *o)
{
    size_t i, j;

    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];

        if (m->nsections > 1)
            fprintf(out, "Process %lld (parent %lld): %s\n\n", s->pid, s->ppid, s->command);
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
        }
    }
    return 0;
}
