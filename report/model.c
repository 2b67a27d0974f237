/*
 * model: sections, definitions and the replay of events; see model.h.
 *
 * section_apply_event() is memory_profiler's LineProfiler.trace_memory_usage
 * with the "previous line" kept per thread instead of per profiler, so that
 * threads do not charge each other's samples.
 */
#include "model.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(record_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(record_error_t *err, const char *fmt, ...)
{
    va_list ap;
    err->column = 0;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return MODEL_BAD_RECORD;
}

/* Grows a zero-filled array indexed by id so that index ID exists. */
static int grow_to(void **array, size_t *n, long long id, size_t elem)
{
    size_t want, old = *n;
    char *p;

    if ((size_t)id < old)
        return 0;
    want = old ? old : 16;
    while (want <= (size_t)id)
        want *= 2;
    p = realloc(*array, want * elem);
    if (!p)
        return MODEL_NO_MEMORY;
    memset(p + old * elem, 0, (want - old) * elem);
    *array = p;
    *n = want;
    return 0;
}

void model_init(model_t *m)
{
    m->sections = NULL;
    m->nsections = 0;
    m->cap = 0;
    m->tree = NULL;
    m->opt.exact = false;
    m->opt.split_threads = false;
}

static void section_destroy(section_t *s)
{
    size_t i;

    for (i = 0; i < s->nfiles; i++) {
        free(s->files[i].path);
        free(s->files[i].abspath);
        free(s->files[i].path_hex);
        free(s->files[i].open_path);
    }
    for (i = 0; i < s->ntables; i++)
        table_destroy(&s->tables[i]);
    for (i = 0; i < s->nthreads; i++) {
        free(s->threads[i].stack);
        free(s->threads[i].rss_before);
        free(s->threads[i].name);
        free(s->threads[i].span_depth);
        free(s->threads[i].span_start);
    }
    for (i = 0; i < s->argc; i++)
        free(s->argv[i]);
    free(s->argv);
    free(s->event_rss);
    free(s->sample_rss);
    free(s->sample_heap);
    free(s->spans);
    for (i = 0; i < s->ntimestamps; i++)
        free(s->timestamps[i].name);
    free(s->timestamps);
    free(s->files);
    free(s->codes);
    free(s->tables);
    free(s->threads);
    free(s->command);
    free(s->script);
    free(s->cwd);
    free(s);
}

void model_truncate(model_t *m, size_t n)
{
    while (m->nsections > n)
        section_destroy(m->sections[--m->nsections]);
}

static void tree_destroy(process_tree_t *t);

void model_destroy(model_t *m)
{
    model_truncate(m, 0);
    tree_destroy(m->tree);
    m->tree = NULL;
    free(m->sections);
    m->sections = NULL;
    m->cap = 0;
}

static char *join_argv(json_t *argv)
{
    size_t i, len = 1, at = 0;
    char *s;

    for (i = 0; i < json_array_size(argv); i++)
        len += json_string_length(json_array_get(argv, i)) + 1;
    s = malloc(len);
    if (!s)
        return NULL;
    for (i = 0; i < json_array_size(argv); i++) {
        json_t *a = json_array_get(argv, i);
        if (i)
            s[at++] = ' ';
        memcpy(s + at, json_string_value(a), json_string_length(a));
        at += json_string_length(a);
    }
    s[at] = '\0';
    return s;
}

section_t *model_add_section(model_t *m, const char *trace, long long pid, long long ppid,
                             json_t *argv, const char *cwd)
{
    section_t *s;

    if (m->nsections == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        section_t **p = realloc(m->sections, cap * sizeof *p);
        if (!p)
            return NULL;
        m->sections = p;
        m->cap = cap;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->trace = trace;
    s->opt = m->opt;
    s->pid = pid;
    s->ppid = ppid;
    s->command = argv ? join_argv(argv) : strdup("");
    s->cwd = cwd ? strdup(cwd) : NULL;
    if (argv && json_array_size(argv) > 0 && json_is_string(json_array_get(argv, 0))) {
        s->script = strdup(json_string_value(json_array_get(argv, 0)));
        if (!s->script) {
            section_destroy(s);
            return NULL;
        }
    }
    s->event_rss = malloc(sizeof *s->event_rss);
    s->sample_rss = malloc(sizeof *s->sample_rss);
    s->sample_heap = malloc(sizeof *s->sample_heap);
    if (s->event_rss && s->sample_rss && s->sample_heap) {
        timeline_init(s->event_rss);
        timeline_init(s->sample_rss);
        timeline_init(s->sample_heap);
    }
    if (argv && json_array_size(argv) > 0) {
        size_t i;
        s->argv = calloc(json_array_size(argv), sizeof *s->argv);
        for (i = 0; s->argv && i < json_array_size(argv); i++, s->argc++)
            if (!(s->argv[i] = strdup(json_string_value(json_array_get(argv, i)))))
                break;
        if (!s->argv || s->argc < json_array_size(argv)) {
            section_destroy(s);
            return NULL;
        }
    }
    if (!s->command || (cwd && !s->cwd) || !s->event_rss || !s->sample_rss || !s->sample_heap ||
        grow_to((void **)&s->threads, &s->nthreads, 0, sizeof *s->threads)) {
        section_destroy(s);
        return NULL;
    }
    m->sections[m->nsections++] = s;
    return s;
}

const file_def_t *section_file(const section_t *s, long long id)
{
    if (id < 0 || (size_t)id >= s->nfiles || !s->files[id].defined)
        return NULL;
    return &s->files[id];
}

/* Appends the components of path to out (of size cap, holding an absolute
 * path), resolving "." and ".." by name. Returns false if it does not fit. */
static bool append_components(char *out, size_t cap, const char *path)
{
    size_t n = strlen(out);
    while (*path) {
        size_t len = strcspn(path, "/");
        if (len == 0 || (len == 1 && path[0] == '.')) {
            /* nothing */
        } else if (len == 2 && path[0] == '.' && path[1] == '.') {
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--;
            out[n] = 0;
        } else {
            if (n + len + 2 > cap)
                return false;
            if (n > 1)
                out[n++] = '/';
            memcpy(out + n, path, len);
            n += len;
            out[n] = 0;
        }
        path += len;
        while (*path == '/')
            path++;
    }
    return true;
}

const char *section_display_path(const section_t *s, const file_def_t *f)
{
    char joined[8192] = "/";
    if (!s->script || !s->cwd || s->script[0] == '/' || s->script[0] == 0 || f->path[0] != '/')
        return f->path;
    if (!append_components(joined, sizeof joined, s->cwd)
        || !append_components(joined, sizeof joined, s->script))
        return f->path;
    return strcmp(joined, f->path) == 0 ? s->script : f->path;
}

/* The bytes that hexadecimal text stands for, NUL-terminated; a bad digit
 * or a NUL byte ends them. NULL if out of memory. */
static char *unhex(const char *hex)
{
    size_t n = strlen(hex) / 2, i;
    char *out = malloc(n + 1);

    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        int hi = hex[2 * i], lo = hex[2 * i + 1];
        hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
        lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            break;
        out[i] = (char)(hi * 16 + lo);
    }
    out[i] = '\0';
    return out;
}

int section_define_file(section_t *s, const record_t *rec, record_error_t *err)
{
    long long id = rec->u.file.id;
    file_def_t *f;

    if (id < 0 || id > MODEL_MAX_ID)
        return bad(err, "file id %lld is out of range (0..%d)", id, MODEL_MAX_ID);
    if (grow_to((void **)&s->files, &s->nfiles, id, sizeof *s->files))
        return MODEL_NO_MEMORY;
    f = &s->files[id];
    if (f->defined)
        return bad(err, "file %lld is defined twice", id);
    f->path = strdup(rec->u.file.path);
    /* A name that is not UTF-8 is opened by its exact bytes. */
    f->abspath = rec->u.file.abspath_hex ? unhex(rec->u.file.abspath_hex)
               : rec->u.file.abspath ? strdup(rec->u.file.abspath) : NULL;
    f->open_path = rec->u.file.path_hex ? unhex(rec->u.file.path_hex) : NULL;
    f->path_hex = rec->u.file.path_hex ? strdup(rec->u.file.path_hex) : NULL;
    if (!f->path || ((rec->u.file.abspath || rec->u.file.abspath_hex) && !f->abspath) ||
        (rec->u.file.path_hex && (!f->open_path || !f->path_hex))) {
        free(f->path);
        free(f->abspath);
        free(f->open_path);
        free(f->path_hex);
        f->path = f->abspath = f->open_path = f->path_hex = NULL;
        return MODEL_NO_MEMORY;
    }
    f->has_stat = rec->u.file.has_stat;
    f->size = rec->u.file.size;
    f->mtime_ns = rec->u.file.mtime_ns;
    f->defined = true;
    return 0;
}

int section_define_code(section_t *s, const record_t *rec, record_error_t *err)
{
    long long id = rec->u.code.id, top = rec->u.code.top;
    const char *name = rec->u.code.qualname ? rec->u.code.qualname : rec->u.code.name;
    code_def_t *c;

    if (id < 0 || id > MODEL_MAX_ID)
        return bad(err, "code id %lld is out of range (0..%d)", id, MODEL_MAX_ID);
    if (!section_file(s, rec->u.code.file))
        return bad(err, "code %lld refers to file %lld, which is not defined", id,
                   rec->u.code.file);
    if (top != id && (top < 0 || (size_t)top >= s->ncodes || !s->codes[top].defined))
        return bad(err, "code %lld names top %lld, which is not a code defined before it", id, top);
    if (rec->u.code.has_lines &&
        (rec->u.code.last_line > INT_MAX ||
         rec->u.code.last_line - rec->u.code.first_line >= TABLE_MAX_SPAN))
        return bad(err, "code %lld: \"lines\" [%lld, %lld] spans too many lines", id,
                   rec->u.code.first_line, rec->u.code.last_line);
    if (grow_to((void **)&s->codes, &s->ncodes, id, sizeof *s->codes))
        return MODEL_NO_MEMORY;
    c = &s->codes[id];
    if (c->defined)
        return bad(err, "code %lld is defined twice", id);
    c->registered = top == id;
    if (top != id) {
        c->table = s->codes[top].table;
        c->defined = true;
        return 0;
    }
    if (s->ntables == s->tables_cap) {
        size_t cap = s->tables_cap ? s->tables_cap * 2 : 8;
        func_table_t *p = realloc(s->tables, cap * sizeof *p);
        if (!p)
            return MODEL_NO_MEMORY;
        s->tables = p;
        s->tables_cap = cap;
    }
    if (table_init(&s->tables[s->ntables], id, rec->u.code.file, name, rec->u.code.has_lines,
                   (int)rec->u.code.first_line, (int)rec->u.code.last_line))
        return MODEL_NO_MEMORY;
    c->table = s->ntables++;
    c->defined = true;
    return 0;
}

int section_switch_thread(section_t *s, long long id, const char *name, record_error_t *err)
{
    if (id < 0 || id > MODEL_MAX_ID)
        return bad(err, "thread id %lld is out of range (0..%d)", id, MODEL_MAX_ID);
    if (grow_to((void **)&s->threads, &s->nthreads, id, sizeof *s->threads))
        return MODEL_NO_MEMORY;
    s->thread = (size_t)id;
    if (name && !s->threads[id].name && !(s->threads[id].name = strdup(name)))
        return MODEL_NO_MEMORY;
    return 0;
}

static int push_line(thread_state_t *th, int line, long long rss)
{
    if (th->depth == th->cap) {
        size_t cap = th->cap ? th->cap * 2 : 64;
        int *p = realloc(th->stack, cap * sizeof *p);
        if (!p)
            return MODEL_NO_MEMORY;
        th->stack = p;
        long long *r = realloc(th->rss_before, cap * sizeof *r);
        if (!r)
            return MODEL_NO_MEMORY;
        th->rss_before = r;
        th->cap = cap;
    }
    th->rss_before[th->depth] = rss;
    th->stack[th->depth++] = line;
    return 0;
}

/* --threads split: the table of function table BASE for the current
 * thread, created on its first event. Returns its index, or -1. */
static long long thread_table(section_t *s, size_t base)
{
    func_table_t *b = &s->tables[base];
    size_t th = s->thread;
    if (th < b->nby_thread && b->by_thread[th])
        return (long long)b->by_thread[th] - 1;
    if (grow_to((void **)&b->by_thread, &b->nby_thread, (long long)th, sizeof *b->by_thread))
        return -1;
    if (s->ntables == s->tables_cap) {
        size_t cap = s->tables_cap * 2;
        func_table_t *p = realloc(s->tables, cap * sizeof *p);
        if (!p)
            return -1;
        s->tables = p;
        s->tables_cap = cap;
        b = &s->tables[base];
    }
    func_table_t *t = &s->tables[s->ntables];
    if (table_init(t, b->code_id, b->file_id, b->name, b->has_lines, b->first_line, b->last_line))
        return -1;
    t->thread = (long long)th;
    const char *name = th < s->nthreads ? s->threads[th].name : NULL;
    t->thread_tid = th < s->nthreads ? s->threads[th].tid : 0;
    if (name && !(t->thread_name = strdup(name)))
        return -1;
    b->by_thread[th] = ++s->ntables;
    return (long long)s->ntables - 1;
}

/* Charges LINE of table T with this event, by the rule --mode chose.
 * BEFORE is the RSS when the line began in its frame, or -1 if unknown. */
static int charge_line(section_t *s, thread_state_t *th, func_table_t *t, int line,
                       const event_t *ev, long long before)
{
    double mem = (double)ev->rss / 1048576.0;
    double cost = before < 0 ? 0.0 : (double)(ev->rss - before) / 1048576.0;
    int rc;

    if (s->opt.exact)
        rc = table_record_delta(t, line, mem, cost);
    else
        rc = table_record_line(t, line, th->prev_line, mem);
    if (!rc) {
        if (before >= 0)
            table_add_cost(t, line, cost);
        table_charge_extra(t, line, ev->nfields, ev->peak, ev->alloc, ev->freed, ev->heap_peak);
    }
    return rc;
}

static int record_rc(int rc, long long line, record_error_t *err)
{
    if (rc == -2)
        return bad(err, "line %lld is too far from the function's other lines", line);
    return rc ? MODEL_NO_MEMORY : 0;
}

/* Memory over time and the peak: every event and sample goes through. */
static void note_memory(section_t *s, const event_t *ev)
{
    long long top = ev->kind != EVENT_SAMPLE && ev->nfields >= EVENT_FIELDS_PEAK && ev->peak > ev->rss
                        ? ev->peak : ev->rss;

    if (s->event_rss->count + s->sample_rss->count == 0)
        s->t_first = s->t_last = ev->t;
    if (ev->t < s->t_first)
        s->t_first = ev->t;
    if (ev->t > s->t_last)
        s->t_last = ev->t;
    if (top > s->peak_rss) {
        s->peak_rss = top;
        s->peak_t = ev->t;
    }
    if (ev->kind == EVENT_SAMPLE) {
        timeline_add(s->sample_rss, ev->t, ev->rss);
        if (ev->nfields == 4)
            timeline_add(s->sample_heap, ev->t, ev->heap);
    } else {
        timeline_add(s->event_rss, ev->t, ev->rss);
    }
}

static void tree_destroy(process_tree_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nprocs; i++) {
        free(t->procs[i].command);
        free(t->procs[i].rss);
    }
    free(t->procs);
    free(t->total);
    free(t);
}

/* The entry of PID, made if there is room; NULL if not. */
static tree_proc_t *tree_proc_of(process_tree_t *t, long long pid)
{
    for (size_t i = 0; i < t->nprocs; i++)
        if (t->procs[i].pid == pid)
            return &t->procs[i];
    if (t->nprocs == TREE_MAX_PROCS) {
        t->dropped++;
        return NULL;
    }
    tree_proc_t *p = &t->procs[t->nprocs];
    *p = (tree_proc_t){.pid = pid, .rss = malloc(sizeof *p->rss)};
    if (!p->rss)
        return NULL;
    timeline_init(p->rss);
    t->nprocs++;
    return p;
}

int model_tree_record(model_t *m, const char *trace, const record_t *rec)
{
    process_tree_t *t = m->tree;
    if (t && strcmp(t->trace, trace))
        return 0;       /* another trace's tree: the first one is drawn */
    if (!t) {
        t = m->tree = calloc(1, sizeof *t);
        if (t) {
            t->total = malloc(sizeof *t->total);
            t->procs = calloc(TREE_MAX_PROCS, sizeof *t->procs);
        }
        if (!t || !t->total || !t->procs) {
            tree_destroy(t);
            m->tree = NULL;
            return MODEL_NO_MEMORY;
        }
        t->trace = trace;
        t->t0_ns = -1;
        timeline_init(t->total);
    }
    if (rec->kind == RECORD_TREE) {
        t->root = rec->u.tree.root;
        t->interval_ns = rec->u.tree.interval_ns;
        t->per_process = rec->u.tree.per_process;
    } else if (rec->kind == RECORD_TREE_PROC) {
        tree_proc_t *p = tree_proc_of(t, rec->u.tree_proc.pid);
        if (p && rec->u.tree_proc.command) {
            char *c = strdup(rec->u.tree_proc.command);
            if (!c)
                return MODEL_NO_MEMORY;
            /* An exec: the samples before it were of the image it replaced
             * (a fork of its parent, its parent's pages counted again until
             * the exec), which the total keeps; its own line starts here. */
            if (p->command && strcmp(p->command, c))
                timeline_init(p->rss);
            free(p->command);
            p->command = c;
            p->ppid = rec->u.tree_proc.ppid;
        }
    } else {
        if (t->t0_ns < 0)
            t->t0_ns = rec->u.tree_sample.t_ns;
        long long at = rec->u.tree_sample.t_ns - t->t0_ns;
        timeline_add(t->total, at, rec->u.tree_sample.rss);
        if (at > t->t_last)
            t->t_last = at;
        json_t *procs = rec->u.tree_sample.procs;
        for (size_t i = 0; procs && i < json_array_size(procs); i++) {
            json_t *e = json_array_get(procs, i);
            tree_proc_t *p = tree_proc_of(t, json_integer_value(json_array_get(e, 0)));
            if (p)
                timeline_add(p->rss, at, json_integer_value(json_array_get(e, 1)));
        }
    }
    return 0;
}

int section_add_timestamp(section_t *s, const record_t *rec, record_error_t *err)
{
    (void)err;
    if (s->ntimestamps == s->timestamps_cap) {
        size_t cap = s->timestamps_cap ? s->timestamps_cap * 2 : 8;
        named_span_t *p = realloc(s->timestamps, cap * sizeof *p);
        if (!p)
            return MODEL_NO_MEMORY;
        s->timestamps = p;
        s->timestamps_cap = cap;
    }
    char *name = strdup(rec->u.timestamp.name);
    if (!name)
        return MODEL_NO_MEMORY;
    long long depth = rec->u.timestamp.depth;
    s->timestamps[s->ntimestamps++] = (named_span_t){
        .name = name, .start = rec->u.timestamp.t0, .end = rec->u.timestamp.t1,
        .rss_start = rec->u.timestamp.rss0, .rss_end = rec->u.timestamp.rss1,
        .depth = depth < 0 ? 0 : depth > 1000 ? 1000 : (int)depth};
    return 0;
}

static int add_span(section_t *s, size_t table, long long start, long long end, bool open)
{
    if (s->nspans == s->spans_cap) {
        size_t cap = s->spans_cap ? s->spans_cap * 2 : 16;
        span_t *p = realloc(s->spans, cap * sizeof *p);
        if (!p)
            return MODEL_NO_MEMORY;
        s->spans = p;
        s->spans_cap = cap;
    }
    s->spans[s->nspans++] = (span_t){.table = table, .thread = (long long)s->thread,
                                     .start = start, .end = end, .open = open};
    return 0;
}

/* Enters or leaves the registered code of TABLE in the current thread. */
static int track_span(section_t *s, thread_state_t *th, size_t table, const event_t *ev)
{
    if (table >= th->nspan) {
        size_t n = th->nspan ? th->nspan : 4;
        unsigned *d;
        long long *st;
        while (n <= table)
            n *= 2;
        d = realloc(th->span_depth, n * sizeof *d);
        if (!d)
            return MODEL_NO_MEMORY;
        th->span_depth = d;
        st = realloc(th->span_start, n * sizeof *st);
        if (!st)
            return MODEL_NO_MEMORY;
        th->span_start = st;
        memset(d + th->nspan, 0, (n - th->nspan) * sizeof *d);
        th->nspan = n;
    }
    if (ev->kind == EVENT_CALL) {
        if (th->span_depth[table]++ == 0)
            th->span_start[table] = ev->t;
        return 0;
    }
    /* A return without its call (a section that starts mid-call) has no
     * start to draw from. */
    if (th->span_depth[table] == 0)
        return 0;
    if (--th->span_depth[table] == 0)
        return add_span(s, table, th->span_start[table], ev->t, false);
    return 0;
}

int section_apply_event(section_t *s, const event_t *ev, record_error_t *err)
{
    thread_state_t *th = &s->threads[s->thread];
    const code_def_t *c;
    func_table_t *t;
    int line, charged, rc;

    if (ev->kind == EVENT_SAMPLE) {
        long long before = s->peak_rss;
        note_memory(s, ev);
        if (s->peak_rss > before) {
            s->peak_table = 0;
            s->peak_pending = true;
        }
        return 0;
    }
    if (ev->code < 0 || (size_t)ev->code >= s->ncodes || !s->codes[ev->code].defined)
        return bad(err, "event refers to code %lld, which is not defined", ev->code);
    if (ev->line > INT_MAX)
        return bad(err, "line number %lld is out of range", ev->line);
    c = &s->codes[ev->code];
    line = (int)ev->line;
    long long peak_before = s->peak_rss;
    note_memory(s, ev);
    if (c->registered && ev->kind != EVENT_LINE && (rc = track_span(s, th, c->table, ev)))
        return rc;
    s->tables[c->table].has_events = true;
    if (s->opt.split_threads && ev->kind != EVENT_CALL) {
        long long k = thread_table(s, c->table);
        if (k < 0)
            return MODEL_NO_MEMORY;
        th = &s->threads[s->thread];
        t = &s->tables[k];
    } else {
        t = &s->tables[c->table];
    }

    /* The line this event charges is the one that ran up to it: if the
     * event (or a sample since the previous one) set the peak, that line
     * was running.  A call has no line of its own yet. */
    if (ev->kind == EVENT_CALL) {
        if (s->peak_rss > peak_before || s->peak_pending)
            s->peak_table = 0;
        s->peak_pending = false;
    } else if (s->peak_rss > peak_before || s->peak_pending) {
        s->peak_table = c->table + 1;
        s->peak_line = th->depth ? th->stack[th->depth - 1] : line;
        s->peak_pending = false;
    }

    switch (ev->kind) {
    case EVENT_CALL:
        /* A call's RSS repeats the last sample (README): the frame's first
         * line is measured from its own first event. */
        return push_line(th, line, -1);
    case EVENT_LINE:
        /* With an empty stack (a section that starts mid-call, as a forked
         * child does) the event's own line stands in for the frame's. */
        charged = th->depth ? th->stack[th->depth - 1] : line;
        rc = charge_line(s, th, t, charged, ev, th->depth ? th->rss_before[th->depth - 1] : -1);
        if (rc)
            return record_rc(rc, charged, err);
        th->prev_line = charged;
        if (th->depth) {
            th->stack[th->depth - 1] = line;
            th->rss_before[th->depth - 1] = ev->rss;
        }
        return 0;
    case EVENT_RETURN:
        if (th->depth) {
            th->depth--;
            charged = th->stack[th->depth];
            rc = charge_line(s, th, t, charged, ev, th->rss_before[th->depth]);
        } else {
            charged = line;
            rc = charge_line(s, th, t, charged, ev, -1);
        }
        if (rc)
            return record_rc(rc, charged, err);
        th->prev_line = charged;
        return 0;
    default:
        return bad(err, "event kind %d is not 0 (line), 1 (call), 2 (return) or 3 (sample)",
                   ev->kind);
    }
}

int section_apply_table(section_t *s, const record_t *rec, record_error_t *err)
{
    long long top = rec->u.table.top;
    json_t *rows = rec->u.table.rows;
    func_table_t *t;
    size_t i, j;

    if (top < 0 || (size_t)top >= s->ncodes || !s->codes[top].defined ||
        !s->codes[top].registered)
        return bad(err, "table snapshot of code %lld, which is not a registered code", top);
    t = &s->tables[s->codes[top].table];
    /* --mode exact cannot use a snapshot's compat Increments: the events
     * (MEMPROF_AGGREGATE=both) are the truth, and a table known from
     * snapshots only is refused (model_events_missing). */
    if (s->opt.exact) {
        t->snapshot = t->snapshot || json_array_size(rows) > 0;
        return 0;
    }
    table_clear(t);
    for (i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        size_t n = json_array_size(row);
        long long extra[4] = {0, 0, 0, 0};
        long long line = json_integer_value(json_array_get(row, 0));
        long long rss = json_integer_value(json_array_get(row, 2));
        int rc;

        for (j = 4; j < n; j++)
            extra[j - 4] = json_integer_value(json_array_get(row, j));
        rc = table_set_row(t, (int)line, (unsigned long long)json_integer_value(json_array_get(row, 1)),
                           (double)rss / 1048576.0, json_number_value(json_array_get(row, 3)),
                           (int)(n - 4), extra);
        if (rc)
            return record_rc(rc, line, err);
        if (rss > s->peak_rss)
            s->peak_rss = rss;
        if (n > 4 && extra[0] > s->peak_rss)
            s->peak_rss = extra[0];
    }
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->table < y->table ? -1 : x->table > y->table;
}

/* --threads split: each function's per-thread tables take its place, in
 * registration order and then thread order; its all-threads table stays
 * only if something was charged to it (a table snapshot). Spans follow
 * their tables. */
static int split_order(section_t *s)
{
    size_t cap = s->ntables ? s->ntables : 1;
    func_table_t *out = malloc(cap * sizeof *out);
    size_t *new_index = malloc(cap * sizeof *new_index);
    bool *keep = calloc(cap, sizeof *keep);
    size_t n = 0, i, k;

    if (!out || !new_index || !keep) {
        free(out);
        free(new_index);
        free(keep);
        return MODEL_NO_MEMORY;
    }
    /* Where each table goes. */
    for (i = 0; i < s->ntables; i++) {
        const func_table_t *b = &s->tables[i];
        if (b->thread >= 0)
            continue;
        new_index[i] = n;
        if (b->measured || !b->nby_thread) {
            keep[i] = true;
            n++;
        }
        for (k = 0; k < b->nby_thread; k++)
            if (b->by_thread[k]) {
                keep[b->by_thread[k] - 1] = true;
                new_index[b->by_thread[k] - 1] = n++;
            }
    }
    for (i = 0; i < s->nspans; i++) {
        span_t *sp = &s->spans[i];
        const func_table_t *b = &s->tables[sp->table];
        if (sp->thread >= 0 && (size_t)sp->thread < b->nby_thread && b->by_thread[sp->thread])
            sp->table = new_index[b->by_thread[sp->thread] - 1];
        else
            sp->table = new_index[sp->table];
    }
    /* Move them there; the per-thread index is of no use any more. */
    for (i = 0; i < s->ntables; i++) {
        func_table_t *t = &s->tables[i];
        free(t->by_thread);
        t->by_thread = NULL;
        t->nby_thread = 0;
        if (keep[i])
            out[new_index[i]] = *t;
        else
            table_destroy(t);
    }
    free(s->tables);
    free(new_index);
    free(keep);
    s->tables = out;
    s->ntables = s->tables_cap = n;
    return 0;
}

static int by_pid(const void *a, const void *b)
{
    const section_t *x = *(section_t *const *)a, *y = *(section_t *const *)b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Children of one parent in one trace, in pid order (a pool's workers
 * write their headers in whatever order they start), each group keeping
 * the places its members had among the other sections. */
static int siblings_in_pid_order(model_t *m)
{
    size_t n = m->nsections, i, j, k;
    bool *done = calloc(n ? n : 1, sizeof *done);
    size_t *at = malloc((n ? n : 1) * sizeof *at);
    section_t **group = malloc((n ? n : 1) * sizeof *group);

    if (!done || !at || !group) {
        free(done);
        free(at);
        free(group);
        return MODEL_NO_MEMORY;
    }
    for (i = 0; i < n; i++) {
        const section_t *s = m->sections[i];
        if (done[i])
            continue;
        for (k = 0, j = i; j < n; j++) {
            const section_t *o = m->sections[j];
            if (!done[j] && o->trace == s->trace && o->ppid == s->ppid) {
                done[j] = true;
                at[k] = j;
                group[k++] = m->sections[j];
            }
        }
        qsort(group, k, sizeof *group, by_pid);
        for (j = 0; j < k; j++)
            m->sections[at[j]] = group[j];
    }
    free(done);
    free(at);
    free(group);
    return 0;
}

size_t model_process_groups(const model_t *m, bool split, size_t *group_of)
{
    size_t n = 0, i, j;

    for (i = 0; i < m->nsections; i++) {
        const section_t *s = m->sections[i];
        group_of[i] = n;
        for (j = 0; !split && j < i; j++) {
            const section_t *o = m->sections[j];
            if (o->trace == s->trace && o->ppid == s->ppid && !strcmp(o->command, s->command)) {
                group_of[i] = group_of[j];
                break;
            }
        }
        if (group_of[i] == n)
            n++;
    }
    return n;
}

int model_finish(model_t *m)
{
    size_t i, th, k;

    if (siblings_in_pid_order(m))
        return MODEL_NO_MEMORY;

    for (i = 0; i < m->nsections; i++) {
        section_t *s = m->sections[i];
        for (th = 0; th < s->nthreads; th++) {
            thread_state_t *ts = &s->threads[th];
            for (k = 0; k < ts->nspan; k++) {
                if (ts->span_depth[k] == 0)
                    continue;
                s->thread = th;
                if (add_span(s, k, ts->span_start[k], s->t_last, true))
                    return MODEL_NO_MEMORY;
                ts->span_depth[k] = 0;
            }
        }
        if (s->nspans > 1)
            qsort(s->spans, s->nspans, sizeof *s->spans, by_start);
        if (s->opt.split_threads && split_order(s))
            return MODEL_NO_MEMORY;
    }
    return 0;
}

static bool any_table(const model_t *m, bool heap)
{
    size_t i, j;

    for (i = 0; i < m->nsections; i++)
        for (j = 0; j < m->sections[i]->ntables; j++) {
            const func_table_t *t = &m->sections[i]->tables[j];
            if (t->measured && (heap ? t->has_heap : t->has_peak))
                return true;
        }
    return false;
}

const section_t *model_events_missing(const model_t *m)
{
    size_t i, j;

    for (i = 0; i < m->nsections; i++)
        for (j = 0; j < m->sections[i]->ntables; j++) {
            const func_table_t *t = &m->sections[i]->tables[j];
            if (t->snapshot && !t->has_events)
                return m->sections[i];
        }
    return NULL;
}

bool model_has_peak(const model_t *m)
{
    return any_table(m, false);
}

bool model_has_heap(const model_t *m)
{
    return any_table(m, true);
}

size_t section_rss_points(const section_t *s, timeline_point_t *out)
{
    return timeline_points(s->sample_rss->count ? s->sample_rss : s->event_rss, out);
}
