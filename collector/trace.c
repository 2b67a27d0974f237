/*
 * trace: see trace.h.
 *
 * Code objects are found by pointer in an open-addressed table that only
 * grows when a function is registered, never on the per-event path. The
 * per-event path reads RSS and the clock and formats one short array into
 * the writer's buffer: no allocation, no stdio, no lock.
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "heap.h"
#include "peak.h"
#include "rss.h"
#include "warn.h"

struct file_def {
    char *path;
    size_t len;
    char *abspath;      /* NULL if not found when defined */
    bool have_stat;
    int64_t size, mtime_ns;
};

static writer_t writer;
static bool recording;
static bool section_open;       /* the header of this process is written */
static struct trace_section_info section;
static uint64_t t0_ns;
static int live_frames;         /* profiled frames running, all threads */
static enum trace_aggregate aggregate;
static bool keep_tables;        /* agg.h's tables for the process itself */
static bool with_peak;          /* events carry the peak of their interval */
static int64_t last_rss_raw;    /* the process's last RSS read, for call events */
static uint64_t last_snapshot;  /* trace_clock() of the last table snapshot */
static enum rss_source header_rss;  /* the RSS source the header names */
/* The previous event, which the next one is written against (format 2). */
static uint64_t event_chunk = UINT64_MAX;   /* writer.chunk then */
static uint64_t last_t;
static int64_t last_kib;

static struct file_def *files;  /* index = id - 1 */
static uint32_t nfiles, files_cap;
static struct trace_code *codes;
static uint32_t ncodes, codes_cap;

/* Code object -> id; keys are pointers, 0 is empty. */
static const void **slot_key;
static uint32_t *slot_id;
static uint32_t slots;          /* a power of two */

static trace_thread_namer thread_namer;
static uint32_t nthreads;
static uint32_t current_thread;
/* Bumped for each new section: a thread whose generation is older has not
 * been defined in this section yet. */
static uint32_t generation = 1;
static __thread uint32_t tls_thread __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_generation __attribute__((tls_model("initial-exec")));

static uint64_t clock_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint32_t slot_of(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (slots - 1);
}

uint32_t trace_code_lookup(const void *key)
{
    if (!slots)
        return 0;
    for (uint32_t i = slot_of(key);; i = (i + 1) & (slots - 1)) {
        if (slot_key[i] == key)
            return slot_id[i];
        if (!slot_key[i])
            return 0;
    }
}

uint32_t trace_code_top(uint32_t id)
{
    if (id == 0 || id > ncodes)
        return 0;
    return codes[id - 1].top ? codes[id - 1].top : id;
}

static bool slots_insert(const void *key, uint32_t id)
{
    if ((ncodes + 1) * 2 > slots) {
        uint32_t n = slots ? slots * 2 : 64;
        const void **k = calloc(n, sizeof *k);
        uint32_t *v = calloc(n, sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return false;
        }
        const void **old_k = slot_key;
        uint32_t *old_v = slot_id, old_n = slots;
        slot_key = k;
        slot_id = v;
        slots = n;
        for (uint32_t i = 0; i < old_n; i++)
            if (old_k[i])
                slots_insert(old_k[i], old_v[i]);
        free(old_k);
        free(old_v);
    }
    uint32_t i = slot_of(key);
    while (slot_key[i])
        i = (i + 1) & (slots - 1);
    slot_key[i] = key;
    slot_id[i] = id;
    return true;
}

static bool grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return true;
    uint32_t n = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)n * size);
    if (!p)
        return false;
    *arr = p;
    *cap = n;
    return true;
}

/* ---- records ---- */

#define KEY(w, s) writer_raw(w, s, sizeof s - 1)

static bool write_string_field(writer_t *w, const char *key, const char *s, size_t n)
{
    bool lossy;
    writer_cstr(w, ",\"");
    writer_cstr(w, key);
    writer_cstr(w, "\":");
    if (!writer_string(w, s, n, &lossy))
        return false;
    if (lossy) {
        writer_cstr(w, ",\"");
        writer_cstr(w, key);
        writer_cstr(w, "_hex\":");
        return writer_hex(w, s, n);
    }
    return true;
}

static void write_file(uint32_t id)
{
    writer_t *w = &writer;
    const struct file_def *f = &files[id - 1];
    KEY(w, "{\"k\":\"file\",\"id\":");
    writer_int(w, id);
    write_string_field(w, "path", f->path, f->len);
    if (f->abspath)
        write_string_field(w, "abspath", f->abspath, strlen(f->abspath));
    if (f->have_stat) {
        KEY(w, ",\"size\":");
        writer_int(w, f->size);
        KEY(w, ",\"mtime_ns\":");
        writer_int(w, f->mtime_ns);
    }
    KEY(w, "}\n");
    writer_end_record(w);
}

static void write_code(uint32_t id)
{
    writer_t *w = &writer;
    const struct trace_code *c = &codes[id - 1];
    KEY(w, "{\"k\":\"code\",\"id\":");
    writer_int(w, id);
    KEY(w, ",\"file\":");
    writer_int(w, c->file);
    write_string_field(w, "name", c->name, strlen(c->name));
    write_string_field(w, "qualname", c->qualname, strlen(c->qualname));
    KEY(w, ",\"firstlineno\":");
    writer_int(w, c->firstlineno);
    KEY(w, ",\"top\":");
    writer_int(w, c->top ? c->top : id);
    if (!c->top && c->first > 0) {
        KEY(w, ",\"lines\":[");
        writer_int(w, c->first);
        KEY(w, ",");
        writer_int(w, c->last);
        KEY(w, "]");
    }
    KEY(w, "}\n");
    writer_end_record(w);
}

/* The command line is asked of the interpreter once; a fork child, which
 * must not call into Python from its fork handler, repeats the copy. */
static struct writer_tap argv_json;
static bool argv_known;

static void write_argv(writer_t *w)
{
    if (argv_known) {
        writer_raw(w, argv_json.buf, argv_json.len);
        return;
    }
    if (!section.write_argv) {
        KEY(w, "[]");
        return;
    }
    /* Written as any record (in pieces if long), and copied on the way. */
    w->tap = &argv_json;
    section.write_argv(w);
    w->tap = NULL;
    argv_known = !argv_json.lost && argv_json.len > 0;
}

static void write_header(void)
{
    writer_t *w = &writer;
    char buf[PATH_MAX];
    /* Wall-clock time of t0, so that sections can be placed in time. */
    uint64_t start = clock_ns(CLOCK_REALTIME) - (clock_ns(CLOCK_MONOTONIC) - t0_ns);
    KEY(w, "{\"k\":\"memprof\",\"version\":");
    writer_int(w, TRACE_VERSION);
    KEY(w, ",\"pid\":");
    writer_int(w, getpid());
    KEY(w, ",\"ppid\":");
    writer_int(w, getppid());
    KEY(w, ",\"python\":");
    writer_string(w, section.python, strlen(section.python), NULL);
    KEY(w, ",\"argv\":");
    write_argv(w);
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0)
        write_string_field(w, "exe", buf, (size_t)n);
    if (getcwd(buf, sizeof buf))
        write_string_field(w, "cwd", buf, strlen(buf));
    KEY(w, ",\"start_ns\":");
    writer_int(w, (int64_t)start);
    KEY(w, ",\"t0_ns\":");
    writer_int(w, (int64_t)t0_ns);
    KEY(w, ",\"page_size\":");
    writer_int(w, sysconf(_SC_PAGESIZE));
    KEY(w, ",\"rss\":\"");
    writer_cstr(w, rss_source_name(header_rss));
    KEY(w, "\"}\n");
    writer_end_record(w);
}

/* The header, then everything defined before the section started (after a
 * fork: the parent's definitions, which the child's section needs too). */
static void open_section(void)
{
    section_open = true;
    /* Before the section's first byte: the check reads tracefs,
     * and a region with no header yet, left by a kill, is no trace. */
    header_rss = rss_source();
    writer_begin_section(&writer);
    write_header();
    for (uint32_t i = 1; i <= nfiles; i++)
        write_file(i);
    for (uint32_t i = 1; i <= ncodes; i++)
        write_code(i);
}

bool trace_init(int fd, const char *path, const struct trace_section_info *info)
{
    section = *info;
    /* Readable now; opened for good at the first event (rss.h). */
    if (rss_sample() < 0)
        return warn_errno("cannot read /proc/self/statm", errno);
    /* A file of our own is written through a mapping, so that a SIGKILL
     * loses nothing; a descriptor we were given (a pipe, say) is written
     * in chunks. */
    if (!(path && writer_init_mapped(&writer, path, getpid()))
        && !writer_init(&writer, fd, getpid()))
        return warn("the trace descriptor is not usable");
    t0_ns = clock_ns(CLOCK_MONOTONIC);
    recording = true;
    return true;
}

bool trace_start_section(void)
{
    if (!recording)
        return false;
    if (!section_open)
        open_section();
    return writer_flush(&writer);
}

uint64_t trace_clock(void)
{
    return clock_ns(CLOCK_MONOTONIC) - t0_ns;
}

bool trace_defined_anything(void)
{
    return ncodes > 0;
}

uint64_t trace_bytes_written(void)
{
    return writer.written;
}

int64_t trace_own_resident(void)
{
    return (int64_t)writer_resident(&writer);
}

bool trace_mapped(void)
{
    return writer.mapped;
}

bool trace_recording(void)
{
    return recording && !writer.failed;
}

void trace_stop(void)
{
    recording = false;
}

uint32_t trace_file_define(const char *path, size_t len)
{
    if (!trace_recording())
        return 0;
    for (uint32_t i = 0; i < nfiles; i++)
        if (files[i].len == len && memcmp(files[i].path, path, len) == 0)
            return i + 1;
    if (!grow((void **)&files, &files_cap, nfiles + 1, sizeof *files))
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, path, len);
    copy[len] = 0;
    struct file_def *f = &files[nfiles];
    memset(f, 0, sizeof *f);
    f->path = copy;
    f->len = len;
    /* Where the source is now: the report may run elsewhere, and the
     * program may chdir before a fork child defines the file again. */
    char abs[PATH_MAX];
    struct stat st;
    if (memchr(path, 0, len) == NULL && realpath(copy, abs)) {
        f->abspath = strdup(abs);
        if (stat(abs, &st) == 0) {
            f->have_stat = true;
            f->size = st.st_size;
            f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
    }
    nfiles++;
    if (!section_open)
        open_section();
    else
        write_file(nfiles);
    return nfiles;
}

uint32_t trace_code_define(const struct trace_code *c)
{
    if (!trace_recording())
        return 0;
    uint32_t id = trace_code_lookup(c->key);
    if (id)
        return id;
    if (!grow((void **)&codes, &codes_cap, ncodes + 1, sizeof *codes))
        return 0;
    struct trace_code *d = &codes[ncodes];
    *d = *c;
    d->name = strdup(c->name);
    d->qualname = strdup(c->qualname);
    if (!d->name || !d->qualname || !slots_insert(c->key, ncodes + 1))
        return 0;
    ncodes++;
    if (aggregate != AGGREGATE_OFF && !c->top && !agg_define_table(ncodes, c->first, c->last))
        return 0;
    /* Only for the process's own tables: a code without them is still traced. */
    if (keep_tables && aggregate == AGGREGATE_OFF && !c->top)
        (void)agg_define_table(ncodes, c->first, c->last);
    if (!section_open)
        open_section();
    else
        write_code(ncodes);
    return ncodes;
}

void trace_set_thread_namer(trace_thread_namer namer)
{
    thread_namer = namer;
}

/* The thread changed: say which one it is now, defining it if new. */
static void switch_thread(void)
{
    writer_t *w = &writer;
    if (tls_generation != generation) {
        tls_generation = generation;
        tls_thread = ++nthreads;
        char name[128] = "";
        unsigned long ident = 0;
        if (thread_namer)
            thread_namer(name, sizeof name, &ident);
        KEY(w, "{\"k\":\"thread\",\"id\":");
        writer_int(w, tls_thread);
        KEY(w, ",\"tid\":");
        writer_int(w, syscall(SYS_gettid));
        KEY(w, ",\"ident\":");
        writer_int(w, (int64_t)ident);
        write_string_field(w, "name", name, strlen(name));
        KEY(w, "}\n");
    } else {
        KEY(w, "{\"k\":\"thread\",\"id\":");
        writer_int(w, tls_thread);
        KEY(w, "}\n");
    }
    writer_end_record(w);
    current_thread = tls_thread;
}

/* Snapshots of the aggregated tables this often, at most. */
#define SNAPSHOT_NS 1000000000ull

/* Whenever the outermost profiled call returns, the records so far reach
 * the kernel: a program killed between calls loses nothing. Aggregated
 * tables are written then too, but at most every SNAPSHOT_NS / 10, and at
 * least every SNAPSHOT_NS in a long call. */
static void after_event(enum trace_kind kind, uint64_t t)
{
    bool outermost_return = false;
    if (kind == TRACE_CALL)
        live_frames++;
    else if (kind == TRACE_RETURN && --live_frames <= 0) {
        live_frames = 0;
        outermost_return = true;
    }
    if (aggregate != AGGREGATE_OFF) {
        uint64_t since = t - last_snapshot;
        if (since >= SNAPSHOT_NS || (outermost_return && since >= SNAPSHOT_NS / 10)) {
            agg_write_snapshot(&writer);
            last_snapshot = t;
            writer_flush(&writer);
        }
        return;
    }
    if (outermost_return)
        writer_flush(&writer);
}

void trace_set_aggregate(enum trace_aggregate mode)
{
    aggregate = mode;
}

void trace_keep_tables(void)
{
    if (keep_tables)
        return;
    keep_tables = true;
    for (uint32_t id = 1; id <= ncodes; id++)
        if (!codes[id - 1].top)
            (void)agg_define_table(id, codes[id - 1].first, codes[id - 1].last);
}

bool trace_set_peak(bool on)
{
    with_peak = on && peak_open();
    return with_peak == on;
}

/* The tracepoint could not be opened after all: the events that follow
 * come from statm (rare: a seccomp filter, say, where tracefs and the
 * capabilities said yes). */
static void write_rss_source(void)
{
    writer_t *w = &writer;
    header_rss = rss_source_used();
    KEY(w, "{\"k\":\"rss\",\"source\":\"");
    writer_cstr(w, rss_source_name(header_rss));
    KEY(w, "\"}\n");
    writer_end_record(w);
}

/* The highest RSS since the previous event: on the tracepoint from the
 * records that rss_now() folded in (no system call), else (or when records
 * were lost) the kernel's high-water mark. */
static int64_t interval_peak(int64_t rss_raw)
{
    int64_t peak = rss_peak_take();
    return peak < 0 ? peak_take(rss_raw) : peak_take_known(rss_raw, peak);
}

void trace_event(enum trace_kind kind, uint32_t code, int line)
{
    if (!recording)
        return;
    /* The thread's heap interval ends here, before this function's own
     * records (a section, a thread's name) can allocate. */
    struct heap_interval heap;
    bool with_heap = heap_enabled();
    if (with_heap)
        heap_interval_take(&heap);
    if (!section_open)
        open_section();
    /* The trace's own mapped pages count in the RSS: they are not the
     * program's. A call takes no sample of its own (memory_profiler takes
     * none, and no code of the frame has run yet): it repeats the last
     * one, which saves a third of the system calls of a small function. */
    int64_t own = (int64_t)writer_resident(&writer);
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    int64_t rss_raw = kind == TRACE_CALL && last_rss_raw ? last_rss_raw : rss_now(now);
    if (rss_raw < 0) {
        /* No reading to be had (the program has used up its descriptors,
         * say): what was recorded is kept, and the trace ends here. */
        warn_errno("cannot read the process's RSS; recording stops", errno);
        trace_end();
        return;
    }
    int64_t rss = rss_raw - own;
    last_rss_raw = rss_raw;
    uint64_t t = now - t0_ns;
    if (rss_source_used() != header_rss)
        write_rss_source();
    if (aggregate != AGGREGATE_OFF || keep_tables) {
        agg_event(kind, trace_code_top(code), line, rss);
        if (aggregate == AGGREGATE_ONLY) {
            after_event(kind, t);
            return;
        }
    }
    if (tls_generation != generation || tls_thread != current_thread)
        switch_thread();
    char *p = writer_reserve(&writer, WRITER_MAX_EVENT);
    if (!p) {
        recording = false;
        return;
    }
    /* Format 2: t and RSS (in KiB: every source counts whole KiB) as the
     * change since the previous event of the same chunk, whose first event
     * carries them whole; an unchanged RSS is left out. */
    int64_t kib = rss >> 10;
    int64_t dt = (int64_t)t, dkib = kib;
    if (writer.chunk == event_chunk) {
        dt = (int64_t)(t - last_t);
        dkib = kib - last_kib;
    }
    event_chunk = writer.chunk;
    last_t = t;
    last_kib = kib;
    *p++ = '[';
    *p++ = (char)('0' + kind);
    *p++ = ',';
    p = fmt_u64(p, code);
    *p++ = ',';
    p = fmt_i64(p, line);
    *p++ = ',';
    p = fmt_i64(p, dt);
    if (dkib || with_peak || with_heap) {
        *p++ = ',';
        p = fmt_i64(p, dkib);
    }
    if (with_peak || with_heap) {
        int64_t peak = with_peak && kind != TRACE_CALL ? interval_peak(rss_raw) - own : rss;
        *p++ = ',';
        p = fmt_i64(p, (peak >> 10) - kib);
    }
    if (with_heap) {
        *p++ = ',';
        p = fmt_i64(p, heap.alloc);
        *p++ = ',';
        p = fmt_i64(p, heap.freed);
        *p++ = ',';
        p = fmt_i64(p, heap.heap_peak);
    }
    *p++ = ']';
    *p++ = '\n';
    writer_commit(&writer, p);
    writer_end_record(&writer);
    after_event(kind, t);
}

void trace_flush(void)
{
    if (recording)
        writer_flush(&writer);
}

void trace_end(void)
{
    if (!recording)
        return;
    if (section_open) {
        writer_t *w = &writer;
        if (aggregate != AGGREGATE_OFF)
            agg_write_snapshot(w);
        if (rss_source_used() == RSS_CHECK) {
            /* For the tests: how often the two sources disagreed. */
            uint64_t events, disagreements, lost;
            rss_check_counts(&events, &disagreements, &lost);
            KEY(w, "{\"k\":\"rss_check\",\"events\":");
            writer_int(w, (int64_t)events);
            KEY(w, ",\"disagreements\":");
            writer_int(w, (int64_t)disagreements);
            KEY(w, ",\"lost\":");
            writer_int(w, (int64_t)lost);
            KEY(w, "}\n");
            writer_end_record(w);
        }
        KEY(w, "{\"k\":\"end\",\"t\":");
        writer_int(w, (int64_t)(clock_ns(CLOCK_MONOTONIC) - t0_ns));
        KEY(w, "}\n");
        writer_end_record(w);
    }
    writer_flush(&writer);
    writer_release(&writer);
    recording = false;
}

void trace_release(void)
{
    if (recording && writer_flush(&writer))
        writer_release(&writer);
}

void trace_before_fork(void)
{
    trace_flush();
}

void trace_after_fork_child(void)
{
    if (!recording)
        return;
    rss_after_fork_child();     /* the parent's: opened again at the child's first event */
    writer_reset_pid(&writer, getpid());
    t0_ns = clock_ns(CLOCK_MONOTONIC);
    last_snapshot = 0;
    last_rss_raw = 0;       /* the parent's: a child's call must not repeat it */
    agg_after_fork_child();
    if (with_peak)
        peak_after_fork_child();
    section_open = false;
    generation++;
    current_thread = 0;
    nthreads = 0;
    live_frames = 0;
}

/* ---- named spans (profile.timestamp) ---- */

int64_t trace_program_rss(void)
{
    int64_t rss = rss_sample();
    return rss < 0 ? rss : rss - (int64_t)writer_resident(&writer);
}

void trace_timestamp(const char *name, size_t len, uint64_t start, int64_t rss_start,
                     uint64_t end, int64_t rss_end, int depth)
{
    if (!trace_recording())
        return;
    if (!section_open)
        open_section();
    writer_t *w = &writer;
    KEY(w, "{\"k\":\"timestamp\"");
    write_string_field(w, "name", name, len);
    KEY(w, ",\"t0\":");
    writer_int(w, (int64_t)start);
    KEY(w, ",\"t1\":");
    writer_int(w, (int64_t)end);
    KEY(w, ",\"rss0\":");
    writer_int(w, rss_start);
    KEY(w, ",\"rss1\":");
    writer_int(w, rss_end);
    KEY(w, ",\"depth\":");
    writer_int(w, depth);
    KEY(w, "}\n");
    writer_end_record(w);
}
