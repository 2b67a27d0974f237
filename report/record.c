/*
 * record: the fast event parser and the jansson-based parser for the rest;
 * see record.h.  Validation of field types lives here so that the model only
 * sees well-typed values; whether ids refer to something is the model's job.
 */
#include "record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* 18 digits always fit a long long, so no overflow check is needed; longer
 * numbers take the slow path, which checks. */
enum { FAST_MAX_DIGITS = 18 };

static inline const char *fast_uint(const char *p, const char *end, long long *out)
{
    const char *first = p;
    long long v = 0;

    while (p < end && (unsigned)(*p - '0') < 10u) {
        if (p - first == FAST_MAX_DIGITS)
            return NULL;        /* before the digit that could overflow */
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p == first || (*first == '0' && p - first > 1))
        return NULL;
    *out = v;
    return p;
}

/* Puts the parsed integers where their position says; N is 3..9 and
 * already known to fit the kind. */
static void fill_event(event_t *ev, const long long *v, int n)
{
    ev->kind = (int)v[0];
    ev->nfields = n;
    if (v[0] == EVENT_SAMPLE) {
        ev->code = ev->line = 0;
        ev->rss = v[1];
        ev->t = v[2];
        ev->heap = n == 4 ? v[3] : 0;
        ev->peak = ev->alloc = ev->freed = ev->heap_peak = 0;
        return;
    }
    ev->code = v[1];
    ev->line = v[2];
    ev->rss = v[3];
    ev->t = v[4];
    ev->peak = n >= EVENT_FIELDS_PEAK ? v[5] : v[3];
    ev->alloc = n == EVENT_FIELDS_HEAP ? v[6] : 0;
    ev->freed = n == EVENT_FIELDS_HEAP ? v[7] : 0;
    ev->heap_peak = n == EVENT_FIELDS_HEAP ? v[8] : 0;
    ev->heap = 0;
}

static bool valid_field_count(long long kind, int n)
{
    if (kind == EVENT_SAMPLE)
        return n == 3 || n == 4;
    return n == EVENT_FIELDS_BASIC || n == EVENT_FIELDS_PEAK || n == EVENT_FIELDS_HEAP;
}

bool record_parse_event_fast(const char *s, size_t len, event_t *ev)
{
    const char *p = s, *end;
    long long v[EVENT_FIELDS_HEAP];
    int n = 0;

    if (len < 7 || s[0] != '[' || s[len - 1] != ']')
        return false;
    p = s + 1;
    end = s + len - 1;      /* the closing bracket */
    for (;;) {
        if (!(p = fast_uint(p, end, &v[n++])))
            return false;
        if (p == end)
            break;
        if (*p++ != ',' || n == EVENT_FIELDS_HEAP)
            return false;
    }
    if (v[0] > EVENT_SAMPLE || !valid_field_count(v[0], n))
        return false;
    fill_event(ev, v, n);
    return true;
}

static int fail(record_error_t *err, int column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(record_error_t *err, int column, const char *fmt, ...)
{
    va_list ap;
    err->column = column;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return -1;
}


/* ---- format 2 ---- */

static inline const char *fast_int(const char *p, const char *end, long long *out)
{
    bool negative = p < end && *p == '-';
    long long v;

    if (!(p = fast_uint(p + negative, end, &v)))
        return NULL;
    *out = negative ? -v : v;
    return p;
}

/* "[i,i,...]" of 3 to 9 integers, nothing else; false for the slow path. */
static bool fast_ints(const char *s, size_t len, long long *v, int *n)
{
    const char *p, *end;

    *n = 0;
    if (len < 5 || s[0] != '[' || s[len - 1] != ']')
        return false;
    p = s + 1;
    end = s + len - 1;
    for (;;) {
        if (!(p = fast_int(p, end, &v[(*n)++])))
            return false;
        if (p == end)
            return *n >= 3;
        if (*p++ != ',' || *n == EVENT_FIELDS_HEAP)
            return false;
    }
}

static int decode_v2(const long long *v, int n, event_base_t *base, event_t *ev,
                     record_error_t *err)
{
    static const char *const field[] = {"kind", "code", "line", "dt", "drss",
                                        "dpeak", "alloc", "freed", "heap_peak"};
    long long w[EVENT_FIELDS_HEAP] = {0};
    long long t, kib, peak_kib;
    int i;

    if (v[0] == EVENT_SAMPLE) {
        if (n != 3 && n != 4)
            return fail(err, 0, "a sample must have 3 or 4 fields [3,rss,t] or [3,rss,t,heap], "
                        "this one has %d", n);
        for (i = 1; i < n; i++)
            if (i != 2 && v[i] < 0)
                return fail(err, 0, "sample field %s must not be negative (%lld)",
                            i == 1 ? "rss" : "heap", v[i]);
        fill_event(ev, v, n);
        return 0;
    }
    if (v[0] < 0 || v[0] > 2)
        return fail(err, 0, "event kind %lld is not 0 (line), 1 (call), 2 (return) or 3 (sample)",
                    v[0]);
    if (n != 4 && n != 5 && n != 6 && n != EVENT_FIELDS_HEAP)
        return fail(err, 0, "an event of format 2 must have 4 or 5 fields [kind,code,line,dt,drss] "
                    "(or 6 or 9), this one has %d", n);
    for (i = 1; i < n; i++)
        if ((i == 1 || i >= 6) && v[i] < 0)     /* line, t and the changes may be */
            return fail(err, 0, "event field %s must not be negative (%lld)", field[i], v[i]);
    if (!base->set) {
        t = v[3];
        kib = n >= 5 ? v[4] : 0;
    } else if (__builtin_add_overflow(base->t, v[3], &t) ||
               __builtin_add_overflow(base->kib, n >= 5 ? v[4] : 0, &kib)) {
        return fail(err, 0, "event: t or rss out of range");
    }
    if (n < 6)
        peak_kib = kib;
    else if (__builtin_add_overflow(kib, v[5], &peak_kib))
        return fail(err, 0, "event: peak out of range");
    /* Bytes must fit: 2^53 KiB is far beyond any machine. */
    if (kib < 0 || kib > (1LL << 53))
        return fail(err, 0, "event: rss comes to %lld KiB, which is not a size", kib);
    if (peak_kib < 0 || peak_kib > (1LL << 53))
        return fail(err, 0, "event: peak comes to %lld KiB, which is not a size", peak_kib);
    w[0] = v[0];
    w[1] = v[1];
    /* A negative line: as in format 1, code without line numbers. */
    w[2] = v[2] < 0 ? 0 : v[2];
    w[3] = kib * 1024;
    w[4] = t;
    w[5] = peak_kib * 1024;
    for (i = 6; i < n; i++)
        w[i] = v[i];
    fill_event(ev, w, n == 4 ? EVENT_FIELDS_BASIC : n);
    base->set = true;
    base->t = t;
    base->kib = kib;
    return 0;
}

int record_parse_event_v2(const char *s, size_t len, event_base_t *base, event_t *ev,
                          record_error_t *err)
{
    long long v[EVENT_FIELDS_HEAP];
    int n;

    if (!fast_ints(s, len, v, &n)) {
        json_error_t jerr;
        json_t *a = json_loadb(s, len, 0, &jerr);
        size_t i;
        if (!a) {
            fail(err, jerr.column > 0 ? jerr.column : 0, "invalid JSON: %s", jerr.text);
            return -2;
        }
        n = (int)json_array_size(a);
        if (!json_is_array(a) || n < 3 || n > EVENT_FIELDS_HEAP) {
            json_decref(a);
            return fail(err, 0, "an event must be an array of 3 to 9 integers");
        }
        for (i = 0; i < (size_t)n; i++) {
            json_t *x = json_array_get(a, i);
            if (!json_is_integer(x)) {
                json_decref(a);
                return fail(err, 0, "event field %zu must be an integer", i + 1);
            }
            v[i] = json_integer_value(x);
        }
        json_decref(a);
    }
    return decode_v2(v, n, base, ev, err);
}

static int parse_event_array(record_t *rec, json_t *a, record_error_t *err)
{
    static const char *const field[] = {"kind", "code", "line", "rss", "t",
                                        "peak", "alloc", "freed", "heap_peak"};
    static const char *const sample_field[] = {"kind", "rss", "t", "heap"};
    size_t n = json_array_size(a), i;
    long long v[EVENT_FIELDS_HEAP];
    json_t *k = json_array_get(a, 0);

    if (k && json_is_integer(k) && json_integer_value(k) == EVENT_SAMPLE) {
        if (n != 3 && n != 4)
            return fail(err, 0, "a sample must have 3 or 4 fields [3,rss,t] or [3,rss,t,heap], "
                        "this one has %zu", n);
        for (i = 0; i < n; i++) {
            json_t *x = json_array_get(a, i);
            if (!json_is_integer(x))
                return fail(err, 0, "sample field %s must be an integer", sample_field[i]);
            v[i] = json_integer_value(x);
            if (i != 2 && v[i] < 0)
                return fail(err, 0, "sample field %s must not be negative (%lld)",
                            sample_field[i], v[i]);
        }
        rec->kind = RECORD_EVENT;
        fill_event(&rec->u.event, v, (int)n);
        return 0;
    }
    if (n != EVENT_FIELDS_BASIC && n != EVENT_FIELDS_PEAK && n != EVENT_FIELDS_HEAP)
        return fail(err, 0, "an event must have 5 fields [kind,code,line,rss,t], this one has %zu",
                    n);
    for (i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x))
            return fail(err, 0, "event field %s must be an integer", field[i]);
        v[i] = json_integer_value(x);
    }
    if (v[0] < 0 || v[0] > 2)
        return fail(err, 0, "event kind %lld is not 0 (line), 1 (call), 2 (return) or 3 (sample)",
                    v[0]);
    /* A negative line: code without line numbers, traced by an agent
     * before 0 stood for "no line"; it fills no row, as 0 does. */
    if (v[2] < 0)
        v[2] = 0;
    for (i = 1; i < n; i++)
        if (i != 4 && v[i] < 0)
            return fail(err, 0, "event field %s must not be negative (%lld)", field[i], v[i]);
    rec->kind = RECORD_EVENT;
    fill_event(&rec->u.event, v, (int)n);
    return 0;
}

/* Field getters: REQUIRED fields fail when absent; optional ones leave the
 * default.  They return -1 with ERR filled in on a wrong type. */
static int get_int(json_t *o, const char *kind, const char *key, bool required,
                   long long *out, bool *present, record_error_t *err)
{
    json_t *x = json_object_get(o, key);
    if (present)
        *present = x != NULL;
    if (!x) {
        if (required)
            return fail(err, 0, "%s record has no \"%s\"", kind, key);
        return 0;
    }
    if (!json_is_integer(x))
        return fail(err, 0, "%s record: \"%s\" must be an integer", kind, key);
    *out = json_integer_value(x);
    return 0;
}

static int get_str(json_t *o, const char *kind, const char *key, bool required,
                   const char **out, record_error_t *err)
{
    json_t *x = json_object_get(o, key);
    if (!x) {
        if (required)
            return fail(err, 0, "%s record has no \"%s\"", kind, key);
        return 0;
    }
    if (!json_is_string(x))
        return fail(err, 0, "%s record: \"%s\" must be a string", kind, key);
    *out = json_string_value(x);
    return 0;
}

static int parse_header(record_t *rec, json_t *o, record_error_t *err)
{
    json_t *argv;
    size_t i;

    rec->kind = RECORD_HEADER;
    rec->u.header.ppid = 0;
    rec->u.header.argv = NULL;
    rec->u.header.cwd = NULL;
    rec->u.header.t0_ns = 0;
    if (get_int(o, "memprof", "version", true, &rec->u.header.version, NULL, err) ||
        get_int(o, "memprof", "pid", true, &rec->u.header.pid, NULL, err) ||
        get_int(o, "memprof", "ppid", false, &rec->u.header.ppid, NULL, err) ||
        get_str(o, "memprof", "cwd", false, &rec->u.header.cwd, err) ||
        get_int(o, "memprof", "t0_ns", false, &rec->u.header.t0_ns, &rec->u.header.has_t0, err))
        return -1;
    argv = json_object_get(o, "argv");
    if (argv) {
        if (!json_is_array(argv))
            return fail(err, 0, "memprof record: \"argv\" must be an array of strings");
        for (i = 0; i < json_array_size(argv); i++)
            if (!json_is_string(json_array_get(argv, i)))
                return fail(err, 0, "memprof record: \"argv\" must be an array of strings");
        rec->u.header.argv = argv;
    }
    return 0;
}

static int parse_file(record_t *rec, json_t *o, record_error_t *err)
{
    bool has_size = false, has_mtime = false;

    rec->kind = RECORD_FILE;
    rec->u.file.abspath = rec->u.file.path_hex = rec->u.file.abspath_hex = NULL;
    if (get_int(o, "file", "id", true, &rec->u.file.id, NULL, err) ||
        get_str(o, "file", "path", true, &rec->u.file.path, err) ||
        get_str(o, "file", "abspath", false, &rec->u.file.abspath, err) ||
        get_str(o, "file", "path_hex", false, &rec->u.file.path_hex, err) ||
        get_str(o, "file", "abspath_hex", false, &rec->u.file.abspath_hex, err) ||
        get_int(o, "file", "size", false, &rec->u.file.size, &has_size, err) ||
        get_int(o, "file", "mtime_ns", false, &rec->u.file.mtime_ns, &has_mtime, err))
        return -1;
    rec->u.file.has_stat = has_size && has_mtime;
    return 0;
}

static int parse_code(record_t *rec, json_t *o, record_error_t *err)
{
    json_t *lines;

    rec->kind = RECORD_CODE;
    rec->u.code.firstlineno = 0;
    rec->u.code.name = NULL;
    rec->u.code.qualname = NULL;
    rec->u.code.has_lines = false;
    if (get_int(o, "code", "id", true, &rec->u.code.id, NULL, err) ||
        get_int(o, "code", "file", true, &rec->u.code.file, NULL, err) ||
        get_int(o, "code", "top", true, &rec->u.code.top, NULL, err) ||
        get_int(o, "code", "firstlineno", false, &rec->u.code.firstlineno, NULL, err) ||
        get_str(o, "code", "name", false, &rec->u.code.name, err) ||
        get_str(o, "code", "qualname", false, &rec->u.code.qualname, err))
        return -1;
    lines = json_object_get(o, "lines");
    if (lines) {
        json_t *a = json_array_get(lines, 0), *b = json_array_get(lines, 1);
        if (!json_is_array(lines) || json_array_size(lines) != 2 ||
            !json_is_integer(a) || !json_is_integer(b))
            return fail(err, 0, "code record: \"lines\" must be [first, last]");
        rec->u.code.first_line = json_integer_value(a);
        rec->u.code.last_line = json_integer_value(b);
        if (rec->u.code.first_line < 0 || rec->u.code.last_line < rec->u.code.first_line)
            return fail(err, 0, "code record: \"lines\" [%lld, %lld] is not a range of lines",
                        rec->u.code.first_line, rec->u.code.last_line);
        rec->u.code.has_lines = true;
    }
    return 0;
}

/* {"k":"table","top":N,"rows":[[line,occurrences,max_rss_bytes,increment_mib
 * (,peak_bytes(,alloc,freed,heap_peak))],...]} */
static int parse_table(record_t *rec, json_t *o, record_error_t *err)
{
    json_t *rows = json_object_get(o, "rows");
    size_t i, j;

    rec->kind = RECORD_TABLE;
    if (get_int(o, "table", "top", true, &rec->u.table.top, NULL, err))
        return -1;
    if (!json_is_array(rows))
        return fail(err, 0, "table record: \"rows\" must be an array of rows");
    for (i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        size_t n = json_array_size(row);
        if (!json_is_array(row) || (n != 4 && n != 5 && n != 8))
            return fail(err, 0, "table record: row %zu must be [line, occurrences, "
                        "max_rss_bytes, increment_mib] with 0, 1 or 4 more fields", i + 1);
        for (j = 0; j < n; j++) {
            json_t *x = json_array_get(row, j);
            if (j == 3 ? !json_is_number(x) : !json_is_integer(x) || json_integer_value(x) < 0)
                return fail(err, 0, "table record: row %zu field %zu must be %s", i + 1, j + 1,
                            j == 3 ? "a number" : "a non-negative integer");
        }
        if (json_integer_value(json_array_get(row, 0)) > 0x7fffffff)
            return fail(err, 0, "table record: row %zu: line number out of range", i + 1);
    }
    rec->u.table.rows = rows;
    return 0;
}

/* {"k":"timestamp","name":S,"t0":N,"t1":N,"rss0":N,"rss1":N,"depth":N} */
static int parse_timestamp(record_t *rec, json_t *o, record_error_t *err)
{
    rec->kind = RECORD_TIMESTAMP;
    rec->u.timestamp.rss0 = rec->u.timestamp.rss1 = -1;
    rec->u.timestamp.depth = 0;
    if (get_str(o, "timestamp", "name", true, &rec->u.timestamp.name, err) ||
        get_int(o, "timestamp", "t0", true, &rec->u.timestamp.t0, NULL, err) ||
        get_int(o, "timestamp", "t1", true, &rec->u.timestamp.t1, NULL, err) ||
        get_int(o, "timestamp", "rss0", false, &rec->u.timestamp.rss0, NULL, err) ||
        get_int(o, "timestamp", "rss1", false, &rec->u.timestamp.rss1, NULL, err) ||
        get_int(o, "timestamp", "depth", false, &rec->u.timestamp.depth, NULL, err))
        return -1;
    if (rec->u.timestamp.t0 < 0 || rec->u.timestamp.t1 < rec->u.timestamp.t0)
        return fail(err, 0, "timestamp record: \"t0\" %lld and \"t1\" %lld are not a span of time",
                    rec->u.timestamp.t0, rec->u.timestamp.t1);
    return 0;
}

/* The launcher's process tree (--include-children): {"k":"tree",...},
 * {"k":"tree_sample",...}, {"k":"tree_proc",...}. */
static int parse_tree(record_t *rec, const char *k, json_t *o, record_error_t *err)
{
    if (!strcmp(k, "tree")) {
        rec->kind = RECORD_TREE;
        rec->u.tree.interval_ns = 0;
        rec->u.tree.per_process = json_is_true(json_object_get(o, "per_process"));
        return get_int(o, "tree", "root", true, &rec->u.tree.root, NULL, err) ||
               get_int(o, "tree", "interval_ns", false, &rec->u.tree.interval_ns, NULL, err);
    }
    if (!strcmp(k, "tree_proc")) {
        rec->kind = RECORD_TREE_PROC;
        rec->u.tree_proc.ppid = 0;
        rec->u.tree_proc.command = NULL;
        return get_int(o, "tree_proc", "pid", true, &rec->u.tree_proc.pid, NULL, err) ||
               get_int(o, "tree_proc", "ppid", false, &rec->u.tree_proc.ppid, NULL, err) ||
               get_str(o, "tree_proc", "command", false, &rec->u.tree_proc.command, err);
    }
    rec->kind = RECORD_TREE_SAMPLE;
    if (get_int(o, "tree_sample", "t_ns", true, &rec->u.tree_sample.t_ns, NULL, err) ||
        get_int(o, "tree_sample", "rss", true, &rec->u.tree_sample.rss, NULL, err))
        return -1;
    json_t *procs = json_object_get(o, "procs");
    rec->u.tree_sample.procs = NULL;
    if (!procs)
        return 0;
    for (size_t i = 0; json_is_array(procs) && i < json_array_size(procs); i++) {
        json_t *p = json_array_get(procs, i);
        if (!json_is_array(p) || json_array_size(p) != 2 ||
            !json_is_integer(json_array_get(p, 0)) || !json_is_integer(json_array_get(p, 1)))
            return fail(err, 0, "tree_sample record: \"procs\" entry %zu must be [pid, rss]", i + 1);
    }
    if (!json_is_array(procs))
        return fail(err, 0, "tree_sample record: \"procs\" must be an array of [pid, rss]");
    rec->u.tree_sample.procs = procs;
    return 0;
}

static int parse_object(record_t *rec, json_t *o, record_error_t *err)
{
    const char *k;
    json_t *kv = json_object_get(o, "k");

    if (!kv)
        return fail(err, 0, "object record has no \"k\"");
    if (!json_is_string(kv))
        return fail(err, 0, "object record: \"k\" must be a string");
    k = json_string_value(kv);
    if (strcmp(k, "memprof") == 0)
        return parse_header(rec, o, err);
    if (strcmp(k, "pid") == 0) {
        rec->kind = RECORD_PID;
        return get_int(o, "pid", "pid", true, &rec->u.pid.pid, NULL, err);
    }
    if (strcmp(k, "part") == 0) {
        rec->kind = RECORD_PART;
        return get_int(o, "part", "pid", true, &rec->u.part.pid, NULL, err) ||
               get_int(o, "part", "last", true, &rec->u.part.last, NULL, err);
    }
    if (strcmp(k, "end") == 0) {
        rec->kind = RECORD_END;
        return 0;
    }
    if (strcmp(k, "file") == 0)
        return parse_file(rec, o, err);
    if (strcmp(k, "code") == 0)
        return parse_code(rec, o, err);
    if (strcmp(k, "thread") == 0) {
        rec->kind = RECORD_THREAD;
        rec->u.thread.name = NULL;      /* optional: absent on later switches */
        rec->u.thread.tid = 0;
        return get_int(o, "thread", "id", true, &rec->u.thread.id, NULL, err) ||
               get_int(o, "thread", "tid", false, &rec->u.thread.tid, &rec->u.thread.has_tid,
                       err) ||
               get_str(o, "thread", "name", false, &rec->u.thread.name, err);
    }
    if (strcmp(k, "table") == 0)
        return parse_table(rec, o, err);
    if (strcmp(k, "timestamp") == 0)
        return parse_timestamp(rec, o, err);
    if (!strcmp(k, "tree") || !strcmp(k, "tree_sample") || !strcmp(k, "tree_proc"))
        return parse_tree(rec, k, o, err);
    rec->kind = RECORD_UNKNOWN;
    return 0;
}

int record_parse(record_t *rec, const char *s, size_t len, record_error_t *err)
{
    json_error_t jerr;
    json_t *j;
    int rc;

    rec->json = NULL;
    if (len > 0 && s[0] == '[' && record_parse_event_fast(s, len, &rec->u.event)) {
        rec->kind = RECORD_EVENT;
        return 0;
    }
    j = json_loadb(s, len, 0, &jerr);
    if (!j)
        return fail(err, jerr.column > 0 ? jerr.column : 0, "invalid JSON: %s", jerr.text);
    if (json_is_array(j))
        rc = parse_event_array(rec, j, err);
    else
        rc = parse_object(rec, j, err);
    /* Getters chained with || give 1 for the one that failed (ERR is set). */
    if (rc > 0)
        rc = -1;
    if (rc == 0 && rec->kind != RECORD_EVENT)
        rec->json = j;
    else
        json_decref(j);
    return rc;
}

void record_clear(record_t *rec)
{
    json_decref(rec->json);
    rec->json = NULL;
}
