/* Unit tests of what the new outputs rest on: the optional event fields in
 * the rows, spans, samples and snapshots (model), the bounded timeline, and
 * the escaping and number formatting shared by the renderers (text). */
#include <stdlib.h>

#include "check.h"
#include "model.h"
#include "text.h"
#include "timeline.h"

static section_t *one_function(model_t *m)
{
    record_t rec = {0};
    record_error_t err;
    section_t *s = model_add_section(m, "t", 1, 0, NULL, NULL);

    rec.kind = RECORD_FILE;
    rec.u.file.id = 1;
    rec.u.file.path = "f.py";
    CHECK(section_define_file(s, &rec, &err) == 0);
    rec.kind = RECORD_CODE;
    rec.u.code.id = 1;
    rec.u.code.file = 1;
    rec.u.code.top = 1;
    rec.u.code.name = "f";
    rec.u.code.has_lines = true;
    rec.u.code.first_line = 1;
    rec.u.code.last_line = 4;
    CHECK(section_define_code(s, &rec, &err) == 0);
    return s;
}

static void apply(section_t *s, const char *line)
{
    event_t ev;
    record_error_t err;

    CHECK(record_parse_event_fast(line, strlen(line), &ev));
    CHECK(section_apply_event(s, &ev, &err) == 0);
}

static void test_optional_fields_charge_the_previous_line(void)
{
    model_t m;
    section_t *s;
    const line_row_t *r;

    model_init(&m);
    s = one_function(&m);
    apply(s, "[1,1,1,100,10,999999]");      /* a call charges nothing */
    apply(s, "[0,1,2,100,20,300,10,1,7]");  /* charges line 1 */
    apply(s, "[0,1,3,100,30,200,5,2,9]");   /* charges line 2 */
    apply(s, "[0,1,2,100,40,500,5,2,3]");   /* charges line 3 */
    apply(s, "[0,1,3,100,50,400,1,1,1]");   /* charges line 2 again */
    apply(s, "[2,1,3,100,60]");             /* charges line 3, no extras */
    r = table_row(&s->tables[0], 1);
    CHECK(r && r->has_peak && r->peak == 300 && r->alloc == 10 && r->heap_peak == 7);
    r = table_row(&s->tables[0], 2);
    CHECK(r && r->peak == 400 && r->alloc == 6 && r->freed == 3 && r->heap_peak == 9);
    r = table_row(&s->tables[0], 3);
    CHECK(r && r->count == 2 && r->peak == 500 && r->alloc == 5);
    CHECK(model_has_peak(&m) && model_has_heap(&m));
    CHECK(s->peak_rss == 999999 && s->peak_t == 10);   /* the process peak counts calls too */
    model_destroy(&m);
}

static void test_spans_outermost_per_thread(void)
{
    model_t m;
    section_t *s;
    record_error_t err;

    model_init(&m);
    s = one_function(&m);
    apply(s, "[1,1,1,100,10]");
    apply(s, "[1,1,1,100,15]");     /* recursion: still one span */
    apply(s, "[2,1,2,100,20]");
    CHECK(section_switch_thread(s, 2, NULL, &err) == 0);
    apply(s, "[1,1,1,100,22]");     /* another thread: its own span */
    CHECK(section_switch_thread(s, 0, NULL, &err) == 0);
    apply(s, "[2,1,2,100,30]");
    apply(s, "[3,200,40,7]");
    CHECK(model_finish(&m) == 0);
    CHECK(s->nspans == 2);
    CHECK(s->spans[0].start == 10 && s->spans[0].end == 30 && !s->spans[0].open);
    CHECK(s->spans[1].start == 22 && s->spans[1].end == 40 && s->spans[1].open);
    CHECK(s->spans[1].thread == 2);
    CHECK(s->sample_rss->count == 1 && s->sample_heap->max == 7 && s->peak_rss == 200);
    model_destroy(&m);
}

static void test_snapshot_replaces_the_table(void)
{
    model_t m;
    section_t *s;
    record_t rec;
    record_error_t err;
    const char *a = "{\"k\":\"table\",\"top\":1,\"rows\":[[2,3,2097152,1.5],[4,1,1048576,-1]]}";
    const char *b = "{\"k\":\"table\",\"top\":1,\"rows\":[[3,2,3145728,0.25,4194304,8,4,6]]}";

    model_init(&m);
    s = one_function(&m);
    CHECK(record_parse(&rec, a, strlen(a), &err) == 0);
    CHECK(section_apply_table(s, &rec, &err) == 0);
    record_clear(&rec);
    CHECK(table_row(&s->tables[0], 2)->count == 3 && table_row(&s->tables[0], 2)->max == 2.0);
    CHECK(record_parse(&rec, b, strlen(b), &err) == 0);
    CHECK(section_apply_table(s, &rec, &err) == 0);
    record_clear(&rec);
    CHECK(table_row(&s->tables[0], 2) == NULL && table_row(&s->tables[0], 4) == NULL);
    CHECK(table_row(&s->tables[0], 3)->inc == 0.25 && table_row(&s->tables[0], 3)->peak == 4194304);
    CHECK(table_row(&s->tables[0], 3)->freed == 4 && s->tables[0].has_heap);
    a = "{\"k\":\"table\",\"top\":7,\"rows\":[]}";
    CHECK(record_parse(&rec, a, strlen(a), &err) == 0);
    CHECK(section_apply_table(s, &rec, &err) == MODEL_BAD_RECORD);
    record_clear(&rec);
    model_destroy(&m);
}

static void test_timeline_stays_bounded(void)
{
    timeline_t *tl = malloc(sizeof *tl);
    timeline_point_t *p = malloc(2 * TIMELINE_BUCKETS * sizeof *p);
    long long i;
    size_t n, k;

    CHECK(tl && p);
    if (!tl || !p)
        return;
    timeline_init(tl);
    /* An hour at one value per millisecond, with one spike. */
    for (i = 0; i < 3600000; i++)
        timeline_add(tl, i * 1000000LL, i == 1234567 ? 999 : i % 10);
    n = timeline_points(tl, p);
    CHECK(n > 1000 && n <= 2 * TIMELINE_BUCKETS);
    CHECK(tl->max == 999 && tl->t_max == 1234567000000LL);
    for (k = 1; k < n && p[k].t >= p[k - 1].t; k++)
        ;
    CHECK(k == n);      /* in time order */
    for (k = 0; k < n && p[k].v != 999; k++)
        ;
    CHECK(k < n);
    free(tl);
    free(p);
}

static char *capture(void (*f)(FILE *, const char *, size_t), const char *s, size_t len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);

    f(out, s, len);
    fclose(out);
    return buf;
}

static void test_escaping(void)
{
    static const char raw[] = "a<b>&\"'\t\x01\xff\xc3\xa9\n";
    char *s;

    s = capture(text_html, raw, sizeof raw - 1);
    CHECK_STR(s, "a&lt;b&gt;&amp;&quot;&#39;&#9;\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd");
    free(s);
    s = capture(text_json_string, raw, sizeof raw - 1);
    CHECK_STR(s, "\"a<b>&\\\"'\\t\\u0001\\ufffd\xc3\xa9\\n\"");
    free(s);
    s = capture(text_csv_field, "x,\"y\"", 5);
    CHECK_STR(s, "\"x,\"\"y\"\"\"");
    free(s);
    s = capture(text_csv_field, "plain", 5);
    CHECK_STR(s, "plain");
    free(s);
}

static void write_number(FILE *out, const char *s, size_t len)
{
    (void)len;
    text_number(out, strtod(s, NULL));
}

static void test_numbers_shortest(void)
{
    static const char *const cases[][2] = {
        {"46.45703125", "46.45703125"}, {"40", "40"}, {"0.1", "0.1"}, {"-152.58984375", "-152.58984375"},
        {"1e20", "1e+20"}, {"0", "0"}, {"123456789", "123456789"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = capture(write_number, cases[i][0], 0);
        CHECK_STR(s, cases[i][1]);
        free(s);
    }
}

int main(void)
{
    test_optional_fields_charge_the_previous_line();
    test_spans_outermost_per_thread();
    test_snapshot_replaces_the_table();
    test_timeline_stays_bounded();
    test_escaping();
    test_numbers_shortest();
    return check_summary();
}
