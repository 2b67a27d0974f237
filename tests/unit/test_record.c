/* Unit tests of record: the fast event parser and the jansson fallback. */
#include "check.h"
#include "record.h"

static bool fast(const char *s, event_t *ev)
{
    return record_parse_event_fast(s, strlen(s), ev);
}

static void test_fast_accepts_compact_events(void)
{
    event_t ev;

    CHECK(fast("[0,1,3,9637888,1210200]", &ev));
    CHECK(ev.kind == EVENT_LINE && ev.code == 1 && ev.line == 3);
    CHECK(ev.rss == 9637888 && ev.t == 1210200);
    CHECK(fast("[2,0,0,0,0]", &ev) && ev.kind == EVENT_RETURN);
    CHECK(fast("[1,4194304,2147483647,999999999999999999,123456789012345678]", &ev));
    CHECK(ev.rss == 999999999999999999LL);
    CHECK(ev.nfields == 5 && ev.peak == ev.rss);
}

static void test_fast_optional_fields_and_samples(void)
{
    event_t ev;

    CHECK(fast("[0,1,3,9637888,1210200,9900000]", &ev));
    CHECK(ev.nfields == 6 && ev.t == 1210200 && ev.peak == 9900000 && ev.alloc == 0);
    CHECK(fast("[2,1,3,100,200,300,400,500,600]", &ev));
    CHECK(ev.nfields == 9 && ev.kind == EVENT_RETURN && ev.peak == 300 && ev.alloc == 400);
    CHECK(ev.freed == 500 && ev.heap_peak == 600);
    CHECK(fast("[3,9637888,1210200]", &ev));
    CHECK(ev.kind == EVENT_SAMPLE && ev.nfields == 3 && ev.rss == 9637888 && ev.t == 1210200);
    CHECK(fast("[3,9637888,1210200,4096]", &ev));
    CHECK(ev.kind == EVENT_SAMPLE && ev.nfields == 4 && ev.heap == 4096);
}

static void test_fast_rejects_anything_else(void)
{
    event_t ev;
    static const char *const bad[] = {
        "[0,1,3,9637888]", "[0,1,3,9637888,1,2,3]", "[0, 1,3,9637888,1]",
        "[0,1,3,9637888,1,2,3,4]", "[0,1,3,9637888,1,2,3,4,5,6]", "[3,1]", "[3,1,2,3,4]",
        "[4,1,2,3,4]", "[3,1,2,]",
        "[0,1,3,9637888,1] ", "[3,1,3,9637888,1]", "[0,01,3,9637888,1]",
        "[0,1,-3,9637888,1]", "[0,1,3,9637888,1.5]", "[0,1,3,1234567890123456789,1]",
        "[0,1,3,9637888,", "", "[]", "{\"k\":\"end\"}", "[0,1,3,,1]",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (fast(bad[i], &ev)) {
            fprintf(stderr, "fast path accepted: %s\n", bad[i]);
            CHECK(0);
        } else {
            CHECK(1);
        }
    }
}

static void test_slow_path_events(void)
{
    record_t rec;
    record_error_t err;
    const char *s = "[ 0, 1, 3, 9637888, 1 ]";

    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_EVENT && rec.u.event.rss == 9637888 && rec.json == NULL);
    s = "[0,1,3,1234567890123456789,1]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0 && rec.u.event.rss == 1234567890123456789LL);
    /* Code without line numbers: a negative line is line 0 (no row). */
    s = "[0,1,-3,5,6]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0 && rec.u.event.line == 0);
    s = "[0,1,3,-5,6]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "event field rss must not be negative (-5)");
    s = "[0,1,3";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1 && err.column > 0);
    CHECK(strstr(err.text, "invalid JSON") != NULL);
    s = "[ 0, 1, 3, 10, 1, 20, 30, 40, 50 ]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0 && rec.u.event.nfields == 9);
    CHECK(rec.u.event.heap_peak == 50);
    s = "[3, 1, 2, 3, 4]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "a sample must have 3 or 4 fields [3,rss,t] or [3,rss,t,heap], this one has 5");
    s = "[0,1,3,10,1,-20]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "event field peak must not be negative (-20)");
    s = "[4,1,3,10,1]";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "event kind 4 is not 0 (line), 1 (call), 2 (return) or 3 (sample)");
}

static void test_table_snapshot(void)
{
    record_t rec;
    record_error_t err;
    const char *s;

    s = "{\"k\":\"table\",\"top\":1,\"rows\":[[3,1,19193856,7.6328125],[4,1,1,2,5,6,7,8]]}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_TABLE && rec.u.table.top == 1);
    CHECK(json_array_size(rec.u.table.rows) == 2);
    record_clear(&rec);
    s = "{\"k\":\"table\",\"top\":1,\"rows\":[[3,1,19193856]]}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    s = "{\"k\":\"table\",\"top\":1,\"rows\":[[3,1,-1,0.5]]}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
}

static void test_timestamp(void)
{
    record_t rec;
    record_error_t err;
    const char *s;

    s = "{\"k\":\"timestamp\",\"name\":\"load\",\"t0\":5,\"t1\":9,\"rss0\":100,\"rss1\":300,\"depth\":1}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_TIMESTAMP && rec.u.timestamp.t0 == 5 && rec.u.timestamp.t1 == 9);
    CHECK(rec.u.timestamp.rss1 == 300 && rec.u.timestamp.depth == 1);
    CHECK_STR(rec.u.timestamp.name, "load");
    record_clear(&rec);
    /* The RSS and the depth may be left out. */
    s = "{\"k\":\"timestamp\",\"name\":\"x\",\"t0\":5,\"t1\":5}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0 && rec.u.timestamp.rss0 == -1);
    record_clear(&rec);
    s = "{\"k\":\"timestamp\",\"name\":\"x\",\"t0\":9,\"t1\":5}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "timestamp record: \"t0\" 9 and \"t1\" 5 are not a span of time");
    s = "{\"k\":\"timestamp\",\"t0\":1,\"t1\":5}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "timestamp record has no \"name\"");
}

static void test_tree(void)
{
    record_t rec;
    record_error_t err;
    const char *s;

    s = "{\"k\":\"tree\",\"root\":42,\"interval_ns\":10000000,\"per_process\":true}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_TREE && rec.u.tree.root == 42 && rec.u.tree.per_process);
    CHECK(rec.u.tree.interval_ns == 10000000);
    record_clear(&rec);
    s = "{\"k\":\"tree_sample\",\"t_ns\":7,\"rss\":300,\"procs\":[[42,100],[43,200]]}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_TREE_SAMPLE && rec.u.tree_sample.rss == 300);
    CHECK(json_array_size(rec.u.tree_sample.procs) == 2);
    record_clear(&rec);
    s = "{\"k\":\"tree_sample\",\"t_ns\":7,\"rss\":300}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0 && rec.u.tree_sample.procs == NULL);
    record_clear(&rec);
    s = "{\"k\":\"tree_sample\",\"t_ns\":7,\"rss\":300,\"procs\":[[42]]}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "tree_sample record: \"procs\" entry 1 must be [pid, rss]");
    s = "{\"k\":\"tree_proc\",\"pid\":43,\"ppid\":42,\"command\":\"dd bs=64M\"}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_TREE_PROC && rec.u.tree_proc.ppid == 42);
    CHECK_STR(rec.u.tree_proc.command, "dd bs=64M");
    record_clear(&rec);
    s = "{\"k\":\"tree_sample\",\"rss\":300}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "tree_sample record has no \"t_ns\"");
}

static void test_objects(void)
{
    record_t rec;
    record_error_t err;
    const char *s;

    s = "{\"k\":\"memprof\",\"version\":1,\"pid\":42,\"ppid\":1,\"argv\":[\"a.py\",\"-x\"],\"cwd\":\"/w\"}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_HEADER && rec.u.header.pid == 42 && rec.u.header.ppid == 1);
    CHECK(json_array_size(rec.u.header.argv) == 2);
    CHECK_STR(rec.u.header.cwd, "/w");
    record_clear(&rec);

    s = "{\"k\":\"file\",\"id\":1,\"path\":\"x.py\",\"size\":3,\"mtime_ns\":1764086000000000000}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_FILE && rec.u.file.has_stat && rec.u.file.abspath == NULL);
    CHECK(rec.u.file.mtime_ns == 1764086000000000000LL);
    record_clear(&rec);

    s = "{\"k\":\"code\",\"id\":3,\"file\":1,\"top\":3,\"lines\":[1,6],\"new_key\":true}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0);
    CHECK(rec.kind == RECORD_CODE && rec.u.code.has_lines && rec.u.code.last_line == 6);
    record_clear(&rec);

    s = "{\"k\":\"code\",\"id\":3,\"file\":1,\"top\":3,\"lines\":[6,1]}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);

    s = "{\"k\":\"heap\",\"bytes\":1}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == 0 && rec.kind == RECORD_UNKNOWN);
    record_clear(&rec);

    s = "{\"k\":\"file\",\"id\":\"1\",\"path\":\"x.py\"}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "file record: \"id\" must be an integer");

    s = "{\"pid\":1}";
    CHECK(record_parse(&rec, s, strlen(s), &err) == -1);
    CHECK_STR(err.text, "object record has no \"k\"");
}

static int v2(const char *s, event_base_t *b, event_t *ev, record_error_t *err)
{
    return record_parse_event_v2(s, strlen(s), b, ev, err);
}

/* Format 2: t and RSS (KiB) against the previous event of the chunk. */
static void test_v2_deltas(void)
{
    event_base_t b = {0};
    event_t ev;
    record_error_t err;

    CHECK(v2("[1,1,1,1200311,9412]", &b, &ev, &err) == 0);     /* the chunk's first: whole */
    CHECK(ev.kind == EVENT_CALL && ev.code == 1 && ev.line == 1);
    CHECK(ev.rss == 9412LL * 1024 && ev.t == 1200311 && ev.nfields == 5 && ev.peak == ev.rss);
    CHECK(v2("[0,1,3,9889]", &b, &ev, &err) == 0);             /* RSS unchanged */
    CHECK(ev.rss == 9412LL * 1024 && ev.t == 1210200 && ev.nfields == 5);
    CHECK(v2("[0,1,5,100,-156]", &b, &ev, &err) == 0);
    CHECK(ev.rss == 9256LL * 1024 && ev.t == 1210300);
    /* Peak (KiB above the RSS) and heap fields (bytes, as they are). */
    CHECK(v2("[0,1,6,10,4,100]", &b, &ev, &err) == 0);
    CHECK(ev.rss == 9260LL * 1024 && ev.peak == 9360LL * 1024 && ev.nfields == 6);
    CHECK(v2("[2,1,6,10,0,0,4096,0,4096]", &b, &ev, &err) == 0);
    CHECK(ev.nfields == 9 && ev.alloc == 4096 && ev.freed == 0 && ev.heap_peak == 4096);
    CHECK(ev.rss == ev.peak && ev.t == 1210320);
    /* Samples are whole and leave the base alone; the slow path decodes too. */
    CHECK(v2("[3,8085504,57596915]", &b, &ev, &err) == 0 && ev.rss == 8085504 && ev.t == 57596915);
    CHECK(v2("[ 0, 1, 7, 5 ]", &b, &ev, &err) == 0 && ev.t == 1210325 && ev.rss == 9260LL * 1024);
    /* A new chunk: whole again. */
    b.set = false;
    CHECK(v2("[0,1,8,77,1]", &b, &ev, &err) == 0 && ev.t == 77 && ev.rss == 1024);
}

static void test_v2_errors(void)
{
    event_base_t b = {0};
    event_t ev;
    record_error_t err;

    CHECK(v2("[0,1,3,100,-5]", &b, &ev, &err) == -1);
    CHECK_STR(err.text, "event: rss comes to -5 KiB, which is not a size");
    CHECK(!b.set);      /* a bad event moves nothing */
    CHECK(v2("[0,1,3]", &b, &ev, &err) == -1);
    CHECK(v2("[0,1,3,1,2,3,4]", &b, &ev, &err) == -1);
    CHECK(v2("[4,1,3,1,2]", &b, &ev, &err) == -1);
    CHECK(v2("[0,-1,3,1,2]", &b, &ev, &err) == -1);
    CHECK(v2("[0,1,3,\"x\",2]", &b, &ev, &err) == -1);
    CHECK_STR(err.text, "event field 4 must be an integer");
    /* Not JSON (a record a kill cut short): -2, for the truncation warning. */
    CHECK(v2("[0,1,3,12          \"}", &b, &ev, &err) == -2);
    CHECK(v2("[0,1,3,1", &b, &ev, &err) == -2);
}

int main(void)
{
    test_v2_deltas();
    test_v2_errors();
    test_fast_accepts_compact_events();
    test_fast_optional_fields_and_samples();
    test_fast_rejects_anything_else();
    test_table_snapshot();
    test_timestamp();
    test_tree();
    test_slow_path_events();
    test_objects();
    return check_summary();
}
