/*
 * diff: see diff.h.  A function that appears in several processes of one
 * trace (a fork's child running it too) is compared by its first measured
 * table, the parent's in the usual case.
 */
#include "diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "render_json.h"
#include "text.h"

typedef struct fn_ref {
    const section_t *s;
    const func_table_t *t;
} fn_ref_t;

enum change { SAME, GREW, SHRANK, ADDED, GONE, NCHANGES };
static const char *const change_name[] = {"same", "grew", "shrank", "new", "gone"};

static const char *fn_file(const fn_ref_t *f)
{
    return section_display_path(f->s, section_file(f->s, f->t->file_id));
}

static bool same_function(const fn_ref_t *a, const fn_ref_t *b)
{
    return strcmp(fn_file(a), fn_file(b)) == 0 &&
           strcmp(table_display_name(a->t), table_display_name(b->t)) == 0;
}

/* The measured tables of M, first occurrence of each function only. */
static int functions_of(const model_t *m, fn_ref_t **out, size_t *n)
{
    size_t i, j, k, count = 0, cap = 0;
    fn_ref_t *v = NULL;

    for (i = 0; i < m->nsections; i++)
        for (j = 0; j < m->sections[i]->ntables; j++) {
            fn_ref_t f = {m->sections[i], &m->sections[i]->tables[j]};
            bool seen = false;
            if (!f.t->measured)
                continue;
            for (k = 0; k < count && !seen; k++)
                seen = same_function(&v[k], &f);
            if (seen)
                continue;
            if (count == cap) {
                fn_ref_t *p;
                cap = cap ? cap * 2 : 16;
                p = realloc(v, cap * sizeof *p);
                if (!p) {
                    free(v);
                    return -1;
                }
                v = p;
            }
            v[count++] = f;
        }
    *out = v;
    *n = count;
    return 0;
}

static enum change classify(const line_row_t *a, const line_row_t *b, double eps)
{
    double d;

    if (!a)
        return ADDED;
    if (!b)
        return GONE;
    d = b->inc - a->inc;
    if (fabs(d) < eps)
        d = b->max - a->max;
    if (d >= eps)
        return GREW;
    if (d <= -eps)
        return SHRANK;
    return SAME;
}

typedef struct diff_state {
    FILE *out;
    const render_options_t *o;
    source_cache_t *sources;
    bool json;
    double eps;
    unsigned long counts[NCHANGES];
    /* The largest growth of an Increment, for the summary. */
    double worst;
    const fn_ref_t *worst_fn;
    int worst_line;
    bool first_fn;
} diff_state_t;

static void text_delta(FILE *out, const diff_state_t *d, bool has, double v, enum change c)
{
    char buf[400];

    if (!has) {
        fprintf(out, " %12s", "");
        return;
    }
    snprintf(buf, sizeof buf, "%+*.*f MiB", d->o->precision + 4, d->o->precision, v);
    if (d->o->colour && (c == GREW || c == SHRANK) && fabs(v) >= d->eps)
        fprintf(out, " %s%12s%s", v > 0 ? COLOUR_GROW : COLOUR_SHRINK, buf, COLOUR_OFF);
    else
        fprintf(out, " %12s", buf);
}

static void text_mib(FILE *out, const diff_state_t *d, bool has, double v)
{
    char buf[400];

    if (!has) {
        fprintf(out, " %12s", "");
        return;
    }
    render_mib(buf, sizeof buf, v, d->o->precision);
    fprintf(out, " %12s", buf);
}

static void json_side(FILE *out, const char *key, const line_row_t *r)
{
    fprintf(out, "\"%s\": ", key);
    if (!r) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"occurrences\": %llu, ", r->count);
    json_key_number(out, "mem_usage_mib", r->max, 1);
    fputs(", ", out);
    json_key_number(out, "increment_mib", r->inc, 1);
    fputc('}', out);
}

static const char diff_header[] =
    "Line #      Old mem      New mem    Mem delta      Old inc      New inc    Inc delta"
    "  Change   Line Contents";

/* One function present on one side or both (A old, B new; either may be
 * NULL). */
static int compare(diff_state_t *d, const fn_ref_t *a, const fn_ref_t *b)
{
    const fn_ref_t *any = b ? b : a;
    const source_file_t *src;
    FILE *out = d->out;
    int first = 0, last = -1, fa, la, line;
    bool first_row = true;

    src = source_cache_get(d->sources, section_file(any->s, any->t->file_id), any->s->cwd);
    if (!src)
        return -1;
    if (a) {
        table_line_range(a->t, &fa, &la);
        first = fa;
        last = la;
    }
    if (b) {
        table_line_range(b->t, &fa, &la);
        if (!a || fa < first)
            first = fa;
        if (!a || la > last)
            last = la;
    }
    if (d->json) {
        fprintf(out, "%s\n    {\"function\": ", d->first_fn ? "" : ",");
        text_json_string(out, table_display_name(any->t), strlen(table_display_name(any->t)));
        fputs(", \"filename\": ", out);
        text_json_string(out, fn_file(any), strlen(fn_file(any)));
        fprintf(out, ", \"status\": \"%s\",\n     \"lines\": [", a && b ? "both" : a ? "only_old"
                                                                                 : "only_new");
    } else {
        fprintf(out, "Function %s in %s%s\n\n%s\n", table_display_name(any->t), fn_file(any),
                a && b ? "" : a ? " (only in OLD)" : " (only in NEW)", diff_header);
        for (fa = (int)strlen(diff_header); fa > 0; fa--)
            fputc('=', out);
        fputc('\n', out);
    }
    d->first_fn = false;
    for (line = first; line <= last; line++) {
        const line_row_t *ra = a ? table_row(a->t, line) : NULL;
        const line_row_t *rb = b ? table_row(b->t, line) : NULL;
        enum change c;
        const char *text;
        size_t len;
        double ka, kb;

        if (!ra && !rb)
            continue;
        c = classify(ra, rb, d->eps);
        d->counts[c]++;
        /* Growth of what the line cost, as every view ranks (rank.h). */
        if (ra && rb && rank_key(a->t, ra, RANK_COST, &ka) && rank_key(b->t, rb, RANK_COST, &kb) &&
            kb - ka > d->worst) {
            d->worst = kb - ka;
            d->worst_fn = any;
            d->worst_line = line;
        }
        if (d->json) {
            fprintf(out, "%s\n       {\"line\": %d, \"change\": \"%s\", ", first_row ? "" : ",",
                    line, change_name[c]);
            json_side(out, "old", ra);
            fputs(", ", out);
            json_side(out, "new", rb);
            fputs(", ", out);
            json_key_number(out, "mem_usage_delta_mib", ra && rb ? rb->max - ra->max : 0,
                            ra && rb);
            fputs(", ", out);
            json_key_number(out, "increment_delta_mib", ra && rb ? rb->inc - ra->inc : 0,
                            ra && rb);
            fputs(", \"contents\": ", out);
            if (source_line(src, line, &text, &len))
                text_json_string(out, text, len);
            else
                fputs("null", out);
            fputc('}', out);
        } else {
            fprintf(out, "%6d", line);
            text_mib(out, d, ra, ra ? ra->max : 0);
            text_mib(out, d, rb, rb ? rb->max : 0);
            text_delta(out, d, ra && rb, ra && rb ? rb->max - ra->max : 0, c);
            text_mib(out, d, ra, ra ? ra->inc : 0);
            text_mib(out, d, rb, rb ? rb->inc : 0);
            text_delta(out, d, ra && rb, ra && rb ? rb->inc - ra->inc : 0, c);
            fprintf(out, "  %-6s   ", change_name[c]);
            if (source_line(src, line, &text, &len))
                fwrite(text, 1, len, out);
            fputc('\n', out);
        }
        first_row = false;
    }
    fputs(d->json ? (first_row ? "]}" : "\n     ]}") : "\n\n", out);
    return 0;
}

int render_diff(FILE *out, const model_t *old, const model_t *new_, const char *old_name,
                const char *new_name, source_cache_t *sources, const render_options_t *o,
                bool json)
{
    diff_state_t d = {.out = out, .o = o, .sources = sources, .json = json, .eps = 0.5,
                      .first_fn = true};
    fn_ref_t *fa = NULL, *fb = NULL;
    size_t na, nb, i, j;
    int rc = 0, k;

    for (k = 0; k < o->precision; k++)
        d.eps /= 10;
    if (functions_of(old, &fa, &na) || functions_of(new_, &fb, &nb)) {
        free(fa);
        return -1;
    }
    if (json) {
        fprintf(out, "{\n  \"memprof_diff\": %d,\n  \"old\": ", DIFF_JSON_VERSION);
        text_json_string(out, old_name, strlen(old_name));
        fputs(",\n  \"new\": ", out);
        text_json_string(out, new_name, strlen(new_name));
        fputs(",\n  \"functions\": [", out);
    } else {
        fprintf(out, "Comparing OLD %s with NEW %s\n\n", old_name, new_name);
    }
    /* NEW's order, then what only OLD has. */
    for (j = 0; j < nb && rc == 0; j++) {
        const fn_ref_t *match = NULL;
        for (i = 0; i < na && !match; i++)
            if (same_function(&fa[i], &fb[j]))
                match = &fa[i];
        rc = compare(&d, match, &fb[j]);
    }
    for (i = 0; i < na && rc == 0; i++) {
        bool matched = false;
        for (j = 0; j < nb && !matched; j++)
            matched = same_function(&fa[i], &fb[j]);
        if (!matched)
            rc = compare(&d, &fa[i], NULL);
    }
    if (rc == 0 && json) {
        fprintf(out, "%s,\n  \"summary\": {\"grew\": %lu, \"shrank\": %lu, \"same\": %lu, "
                "\"new\": %lu, \"gone\": %lu}\n}\n", d.first_fn ? "]" : "\n  ]", d.counts[GREW],
                d.counts[SHRANK], d.counts[SAME], d.counts[ADDED], d.counts[GONE]);
    } else if (rc == 0) {
        fprintf(out, "Summary: %lu line%s grew, %lu shrank, %lu unchanged, %lu new, %lu gone.\n",
                d.counts[GREW], d.counts[GREW] == 1 ? "" : "s", d.counts[SHRANK], d.counts[SAME],
                d.counts[ADDED], d.counts[GONE]);
        const section_t *missing = model_events_missing(old);
        if (!missing)
            missing = model_events_missing(new_);
        if (missing) {
            fputs("Largest growth: not ranked: ", out);
            fputs_safe(out, missing->trace);
            fprintf(out, " holds table snapshots only (MEMPROF_AGGREGATE=1), without the events "
                    "that give what each line cost; record it again with MEMPROF_AGGREGATE=both "
                    "or 0.\n");
        } else if (d.worst_fn) {
            char buf[400];
            snprintf(buf, sizeof buf, "%+.*f MiB", o->precision, d.worst);
            fprintf(out, "Largest growth of an %s: %s:%d (%s) %s\n", rank_measure(RANK_COST),
                    fn_file(d.worst_fn), d.worst_line, table_display_name(d.worst_fn->t), buf);
        }
    }
    free(fa);
    free(fb);
    return rc;
}
