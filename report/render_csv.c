/*
 * render_csv: see render_csv.h.
 */
#include "render_csv.h"

#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "render_json.h"
#include "text.h"

static const char header[] =
    "pid,ppid,command,filename,function,line,occurrences,mem_usage_mib,increment_mib,"
    "peak_mib,allocated_bytes,freed_bytes,heap_peak_bytes,contents\r\n";

static void field(FILE *out, const char *s)
{
    text_csv_field(out, s, strlen(s));
    fputc(',', out);
}

static void number(FILE *out, double v, bool present)
{
    if (present)
        text_number(out, v);
    fputc(',', out);
}

static int write_row(FILE *out, const section_t *s, const func_table_t *t, int line,
                     source_cache_t *sources)
{
    const file_def_t *f = section_file(s, t->file_id);
    const source_file_t *src = source_cache_get(sources, f, s->cwd);
    const line_row_t *row = table_row(t, line);
    const char *text;
    size_t len;
    bool m = row != NULL;

    if (!src)
        return -1;
    fprintf(out, "%lld,%lld,", s->pid, s->ppid);
    field(out, s->command);
    field(out, section_display_path(s, f));
    field(out, table_display_name(t));
    fprintf(out, "%d,%llu,", line, m ? row->count : 0ULL);
    number(out, m ? row->max : 0, m);
    number(out, m ? row->inc : 0, m);
    number(out, m ? (double)row->peak / 1048576.0 : 0, m && row->has_peak);
    number(out, m ? (double)row->alloc : 0, m && row->has_heap);
    number(out, m ? (double)row->freed : 0, m && row->has_heap);
    number(out, m ? (double)row->heap_peak : 0, m && row->has_heap);
    if (source_line(src, line, &text, &len))
        text_csv_field(out, text, len);
    fputs("\r\n", out);
    return 0;
}

int render_csv(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o)
{
    size_t i, j;
    int first, last, line;

    fputs(header, out);
    if (o->top) {
        line_ref_t *refs;
        size_t n;
        int rc = 0;

        if (rank_lines(m, RANK_COST, &refs, &n))
            return -1;
        for (i = 0; i < n && i < o->top && rc == 0; i++)
            rc = write_row(out, refs[i].s, refs[i].t, refs[i].line, sources);
        free(refs);
        return rc;
    }
    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        for (j = 0; j < s->ntables; j++) {
            const func_table_t *t = &s->tables[j];
            if (!t->measured)
                continue;
            table_line_range(t, &first, &last);
            for (line = first; line <= last; line++)
                if (write_row(out, s, t, line, sources))
                    return -1;
        }
    }
    return 0;
}
