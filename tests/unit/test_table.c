/* Unit tests of the aggregation rule (table) and its replay of events
 * (model): the arithmetic of memory_profiler 0.61's CodeMap.trace. */
#include "check.h"
#include "model.h"
#include "table.h"

#define MIB 1048576.0

static void test_first_line_has_base_zero(void)
{
    func_table_t t;
    const line_row_t *r;

    CHECK(table_init(&t, 1, 1, "f", true, 1, 6) == 0);
    CHECK(table_record_line(&t, 1, 0, 46.5) == 0);
    r = table_row(&t, 1);
    CHECK(r && r->inc == 46.5 && r->max == 46.5 && r->count == 1);
    CHECK(table_row(&t, 2) == NULL);
    /* base is the previous line's maximum, in this table */
    CHECK(table_record_line(&t, 3, 1, 50.0) == 0);
    CHECK(table_row(&t, 3)->inc == 3.5);
    /* a previous line that is not in this table counts as 0 */
    CHECK(table_record_line(&t, 4, 99, 60.0) == 0);
    CHECK(table_row(&t, 4)->inc == 60.0);
    table_destroy(&t);
}

static void test_loop_sums_and_maxes(void)
{
    func_table_t t;
    const line_row_t *r;

    CHECK(table_init(&t, 1, 1, NULL, false, 0, 0) == 0);
    CHECK(table_record_line(&t, 10, 0, 10.0) == 0);
    CHECK(table_record_line(&t, 11, 10, 20.0) == 0);  /* +10 */
    CHECK(table_record_line(&t, 10, 11, 15.0) == 0);  /* 15-20 = -5 */
    CHECK(table_record_line(&t, 11, 10, 12.0) == 0);  /* 12-15 = -3 */
    r = table_row(&t, 10);
    CHECK(r->inc == 10.0 - 5.0 && r->max == 15.0 && r->count == 2);
    r = table_row(&t, 11);
    CHECK(r->inc == 10.0 - 3.0 && r->max == 20.0 && r->count == 2);
    table_destroy(&t);
}

static void test_rows_grow_both_ways(void)
{
    func_table_t t;
    int first, last;

    CHECK(table_init(&t, 1, 1, NULL, false, 0, 0) == 0);
    CHECK(table_record_line(&t, 500, 0, 1.0) == 0);
    CHECK(table_record_line(&t, 3, 0, 2.0) == 0);
    CHECK(table_record_line(&t, 2000, 0, 3.0) == 0);
    CHECK(table_row(&t, 500)->max == 1.0 && table_row(&t, 3)->max == 2.0);
    CHECK(table_row(&t, 2000)->max == 3.0 && table_row(&t, 1000) == NULL);
    table_line_range(&t, &first, &last);
    CHECK(first == 3 && last == 2000);
    CHECK(table_record_line(&t, 3 + TABLE_MAX_SPAN, 0, 1.0) == -2);
    table_destroy(&t);
}

static section_t *seed_section(model_t *m)
{
    record_t rec = {0};
    record_error_t err;
    section_t *s = model_add_section(m, "t", 1, 0, NULL, NULL);

    rec.kind = RECORD_FILE;
    rec.u.file.id = 1;
    rec.u.file.path = "example.py";
    CHECK(section_define_file(s, &rec, &err) == 0);
    rec.kind = RECORD_CODE;
    rec.u.code.id = 1;
    rec.u.code.file = 1;
    rec.u.code.top = 1;
    rec.u.code.has_lines = true;
    rec.u.code.first_line = 1;
    rec.u.code.last_line = 6;
    CHECK(section_define_code(s, &rec, &err) == 0);
    rec.u.code.id = 2;  /* nested: shares code 1's table */
    rec.u.code.top = 1;
    rec.u.code.has_lines = false;
    CHECK(section_define_code(s, &rec, &err) == 0);
    return s;
}

static void event(section_t *s, int kind, int code, int line, double mib)
{
    event_t ev = {.kind = kind, .code = code, .line = line, .rss = (long long)(mib * MIB),
                  .nfields = EVENT_FIELDS_BASIC};
    record_error_t err;
    CHECK(section_apply_event(s, &ev, &err) == 0);
}

static void test_seed_replay(void)
{
    model_t m;
    section_t *s;
    const func_table_t *t;
    event_t ev = {.kind = EVENT_LINE, .code = 7, .line = 1, .nfields = EVENT_FIELDS_BASIC};
    record_error_t err;

    model_init(&m);
    s = seed_section(&m);
    event(s, EVENT_CALL, 1, 1, 46.0);
    event(s, EVENT_LINE, 1, 3, 46.0);
    event(s, EVENT_LINE, 1, 4, 54.0);
    event(s, EVENT_LINE, 1, 5, 206.0);
    event(s, EVENT_LINE, 1, 6, 54.0);
    event(s, EVENT_RETURN, 1, 6, 54.0);
    t = &s->tables[0];
    CHECK(table_row(t, 1)->inc == 46.0);
    CHECK(table_row(t, 4)->inc == 152.0 && table_row(t, 4)->max == 206.0);
    CHECK(table_row(t, 5)->inc == -152.0);
    CHECK(table_row(t, 6)->inc == 0.0 && table_row(t, 6)->count == 1);
    CHECK(table_row(t, 2) == NULL);
    CHECK(section_apply_event(s, &ev, &err) == MODEL_BAD_RECORD);
    CHECK_STR(err.text, "event refers to code 7, which is not defined");
    model_destroy(&m);
}

static void test_nested_code_and_empty_stack(void)
{
    model_t m;
    section_t *s;
    const func_table_t *t;

    model_init(&m);
    s = seed_section(&m);
    /* a line event with nothing on the stack charges its own line */
    event(s, EVENT_LINE, 1, 4, 10.0);
    event(s, EVENT_RETURN, 1, 5, 12.0);
    event(s, EVENT_CALL, 2, 3, 12.0);
    event(s, EVENT_LINE, 2, 3, 13.0);
    event(s, EVENT_RETURN, 2, 3, 14.0);
    t = &s->tables[0];
    CHECK(s->ntables == 1);
    CHECK(table_row(t, 4)->inc == 10.0);
    CHECK(table_row(t, 5)->inc == 2.0);
    /* code 2's events land in code 1's table: 13 - 12 (line 5's max) */
    CHECK(table_row(t, 3)->count == 2 && table_row(t, 3)->inc == 1.0 + 1.0);
    model_destroy(&m);
}

static void test_threads_keep_their_own_previous_line(void)
{
    model_t m;
    section_t *s;
    record_error_t err;
    const func_table_t *t;

    model_init(&m);
    s = seed_section(&m);
    CHECK(section_switch_thread(s, 1, NULL, &err) == 0);
    event(s, EVENT_CALL, 1, 1, 10.0);
    event(s, EVENT_LINE, 1, 3, 10.0);     /* line 1: 10 */
    CHECK(section_switch_thread(s, 2, NULL, &err) == 0);
    event(s, EVENT_CALL, 1, 1, 20.0);
    event(s, EVENT_LINE, 1, 3, 20.0);     /* line 1: base 0 again, +20 */
    CHECK(section_switch_thread(s, 1, NULL, &err) == 0);
    event(s, EVENT_LINE, 1, 4, 30.0);     /* line 3: base line 1 max 20 */
    t = &s->tables[0];
    CHECK(table_row(t, 1)->inc == 30.0 && table_row(t, 1)->count == 2);
    CHECK(table_row(t, 3)->inc == 10.0);
    model_destroy(&m);
}

/* The cost (exact-mode increment) is kept beside the compat Increment, a
 * snapshot does not erase it, and a row is an artefact only when the two
 * differ by more than the table's highest Mem usage. */
static void test_cost_and_artefacts(void)
{
    func_table_t t;
    int i;

    CHECK(table_init(&t, 1, 1, "f", true, 1, 3) == 0);
    CHECK(table_record_line(&t, 1, 0, 100.0) == 0);
    table_add_cost(&t, 1, 0.0);
    CHECK(t.has_cost && table_row(&t, 1)->inc == 100.0 && table_row(&t, 1)->cost == 0.0);
    /* one charge from 0: |100 - 0| is not above the highest usage, 100 */
    CHECK(!table_is_artefact(&t, table_row(&t, 1)));
    /* line 2 peaks at 150 once, then line 3 is charged against it 10 times
     * while the memory stays at 100: -500 MiB of compat Increment, cost 0 */
    CHECK(table_record_line(&t, 2, 1, 150.0) == 0);
    table_add_cost(&t, 2, 50.0);
    for (i = 0; i < 10; i++) {
        CHECK(table_record_line(&t, 3, 2, 100.0) == 0);
        table_add_cost(&t, 3, i == 0 ? -50.0 : 0.0);
    }
    CHECK(table_row(&t, 3)->inc == -500.0 && table_highest(&t) == 150.0);
    CHECK(table_is_artefact(&t, table_row(&t, 3)));
    CHECK(!table_is_artefact(&t, table_row(&t, 2)));
    table_clear(&t);
    CHECK(table_set_row(&t, 3, 10, 100.0, -500.0, 0, NULL) == 0);
    CHECK(t.snapshot && t.has_cost && table_row(&t, 3)->cost == -50.0);
    /* a table known from snapshots only has no cost and no artefacts */
    table_destroy(&t);
    CHECK(table_init(&t, 1, 1, "f", true, 1, 3) == 0);
    CHECK(table_set_row(&t, 3, 10, 100.0, -500.0, 0, NULL) == 0);
    CHECK(!t.has_cost && !table_is_artefact(&t, table_row(&t, 3)));
    table_destroy(&t);
}

int main(void)
{
    test_first_line_has_base_zero();
    test_loop_sums_and_maxes();
    test_rows_grow_both_ways();
    test_cost_and_artefacts();
    test_seed_replay();
    test_nested_code_and_empty_stack();
    test_threads_keep_their_own_previous_line();
    return check_summary();
}
