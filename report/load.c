/*
 * load: the record loop; see load.h.
 *
 * Several processes write one trace: "pid" records switch between their
 * sections, so the loop keeps a small pid -> section map for this trace.
 * A trace is all or nothing when refused (newer version, no header), because
 * a partial report of a format we do not understand would mislead.
 */
#include "load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "record.h"
#include "trace_reader.h"

/* The pieces of a long record gathered so far, per pid. */
typedef struct pieces {
    long long pid;
    char *buf;
    size_t len, cap;
} pieces_t;

typedef struct loader {
    model_t *m;
    diag_t *d;
    const char *path;
    trace_reader_t r;
    size_t first_section;   /* model index of this trace's first section */
    section_t *cur;         /* NULL before the header, or after a bad pid */
    bool lost;              /* records belong to an unknown pid: skip them */
    progress_t *progress;   /* or NULL */
    unsigned long long size;    /* of the file, 0 if unknown */
    pieces_t *pieces;
    size_t npieces;
    event_base_t base;      /* format 2: what the next event is written against */
} loader_t;

static section_t *section_of_pid(loader_t *l, long long pid)
{
    size_t i;

    /* Newest first: a pid reused after exit means the latest process. */
    for (i = l->m->nsections; i-- > l->first_section;)
        if (l->m->sections[i]->pid == pid)
            return l->m->sections[i];
    return NULL;
}

static void malformed(loader_t *l, const record_error_t *err)
{
    if (err->column > 0)
        diag_malformed(l->d, l->path, l->r.lineno, "column %d: %s", err->column, err->text);
    else
        diag_malformed(l->d, l->path, l->r.lineno, "%s", err->text);
}

/* Applies a parsed record; returns LOAD_OK, LOAD_REFUSED or LOAD_NO_MEMORY. */
static int apply(loader_t *l, const record_t *rec)
{
    record_error_t err;
    int rc = 0;

    if (rec->kind == RECORD_HEADER) {
        if (rec->u.header.version > TRACE_FORMAT_VERSION) {
            diag_refused(l->d, l->path, l->r.lineno,
                         "trace format version %lld is newer than this memprof-report reads (%d)",
                         rec->u.header.version, TRACE_FORMAT_VERSION);
            return LOAD_REFUSED;
        }
        l->cur = model_add_section(l->m, l->path, rec->u.header.pid, rec->u.header.ppid,
                                   rec->u.header.argv, rec->u.header.cwd);
        l->lost = false;
        if (!l->cur)
            return LOAD_NO_MEMORY;
        l->cur->has_t0 = rec->u.header.has_t0;
        l->cur->t0_ns = rec->u.header.t0_ns;
        l->cur->version = (int)rec->u.header.version;
        l->base.set = false;
        return LOAD_OK;
    }
    if (rec->kind == RECORD_TREE || rec->kind == RECORD_TREE_SAMPLE || rec->kind == RECORD_TREE_PROC)
        /* The launcher's, of the whole run: no section's, and a run with
         * no Python process has no section at all. */
        return model_tree_record(l->m, l->path, rec) ? LOAD_NO_MEMORY : LOAD_OK;
    if (!l->cur && rec->kind == RECORD_UNKNOWN && l->npieces > 0)
        return LOAD_OK;     /* padding after the first piece of a long header */
    if (!l->cur) {
        diag_refused(l->d, l->path, l->r.lineno,
                     "not a memprof trace: the first record is not a \"memprof\" header");
        return LOAD_REFUSED;
    }
    if (rec->kind == RECORD_PID) {
        section_t *s = section_of_pid(l, rec->u.pid.pid);
        l->base.set = false;    /* a chunk starts */
        l->lost = s == NULL;
        if (s)
            l->cur = s;
        else
            diag_malformed(l->d, l->path, l->r.lineno,
                           "pid %lld has no \"memprof\" header before it; its records are skipped",
                           rec->u.pid.pid);
        return LOAD_OK;
    }
    if (l->lost)
        return LOAD_OK;
    switch (rec->kind) {
    case RECORD_EVENT:
        rc = section_apply_event(l->cur, &rec->u.event, &err);
        break;
    case RECORD_FILE:
        rc = section_define_file(l->cur, rec, &err);
        break;
    case RECORD_CODE:
        rc = section_define_code(l->cur, rec, &err);
        break;
    case RECORD_THREAD:
        rc = section_switch_thread(l->cur, rec->u.thread.id, rec->u.thread.name, &err);
        if (!rc && rec->u.thread.has_tid)
            l->cur->threads[l->cur->thread].tid = rec->u.thread.tid;
        break;
    case RECORD_TABLE:
        if (!l->cur->snapshot_line)
            l->cur->snapshot_line = l->r.lineno;
        rc = section_apply_table(l->cur, rec, &err);
        break;
    case RECORD_TIMESTAMP:
        rc = section_add_timestamp(l->cur, rec, &err);
        break;
    case RECORD_END:
        l->cur->ended = true;
        break;
    default:
        break;
    }
    if (rc == MODEL_NO_MEMORY)
        return LOAD_NO_MEMORY;
    if (rc)
        malformed(l, &err);
    return LOAD_OK;
}

/* A line that does not parse: the cut-off last line of a killed process is
 * expected and only warned about; anything else is malformed.  Line 1 that
 * does not parse means this is not a trace at all. */
static int unparsable(loader_t *l, const char *line, size_t len, const record_error_t *err)
{
    /* The agent writes a file through regions holding a padding record
     * ({"k":"pad","s":"   "}) that records replace: a record that a kill
     * cut short is followed by the padding's spaces and end. */
    bool padded = len >= 3 && line[len - 1] == '}' && line[len - 2] == '"' && line[len - 3] == ' ';
    if (padded && (l->cur || l->lost)) {
        diag_warning(l->d, "%s:%ld: truncated record (the process was probably killed while writing it)",
                     l->path, l->r.lineno);
        return LOAD_OK;
    }
    if (l->r.unterminated) {
        diag_warning(l->d, "%s:%ld: truncated last record (the process was probably killed)",
                     l->path, l->r.lineno);
        return LOAD_OK;
    }
    if (!l->cur && !l->lost) {
        diag_refused(l->d, l->path, l->r.lineno, "not a memprof trace: %s", err->text);
        return LOAD_REFUSED;
    }
    if (!l->lost)
        malformed(l, err);
    return LOAD_OK;
}

static pieces_t *pieces_of(loader_t *l, long long pid)
{
    for (size_t i = 0; i < l->npieces; i++)
        if (l->pieces[i].pid == pid)
            return &l->pieces[i];
    pieces_t *more = realloc(l->pieces, (l->npieces + 1) * sizeof *more);
    if (!more)
        return NULL;
    l->pieces = more;
    more[l->npieces] = (pieces_t){.pid = pid};
    return &more[l->npieces++];
}

/* {"k":"part"}: the next line is a piece of a record longer than the
 * agent's chunks; the last piece completes it, and the whole record is
 * read as if it stood on one line of its pid's section. */
static int take_piece(loader_t *l, const record_t *part)
{
    const char *line;
    size_t len;
    record_t rec;
    record_error_t err;
    int got = trace_reader_next(&l->r, &line, &len);

    l->base.set = false;    /* the writer's chunk ends at a piece */
    if (got < 0)
        return errno == ENOMEM ? LOAD_NO_MEMORY : LOAD_OK;
    if (got == 0) {
        diag_warning(l->d, "%s:%ld: truncated record: a piece announced at the end of the file",
                     l->path, l->r.lineno);
        return LOAD_OK;
    }
    pieces_t *p = pieces_of(l, part->u.part.pid);
    if (!p)
        return LOAD_NO_MEMORY;
    if (p->len + len > TRACE_LINE_MAX) {
        diag_malformed(l->d, l->path, l->r.lineno,
                       "a record in pieces is longer than %d MiB (the longest this reader takes); skipped",
                       TRACE_LINE_MAX >> 20);
        p->len = 0;
        return LOAD_OK;
    }
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len)
            cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b)
            return LOAD_NO_MEMORY;
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, line, len);
    p->len += len;
    if (!part->u.part.last)
        return LOAD_OK;
    size_t whole = p->len;
    p->len = 0;
    int rc;
    if (record_parse(&rec, p->buf, whole, &err) < 0)
        return unparsable(l, p->buf, whole, &err);
    if (rec.kind != RECORD_HEADER) {
        /* The pieces name their pid: the record is that process's. */
        record_t pid = {.kind = RECORD_PID, .u.pid.pid = part->u.part.pid};
        rc = apply(l, &pid);
        if (rc != LOAD_OK) {
            record_clear(&rec);
            return rc;
        }
    }
    rc = apply(l, &rec);
    record_clear(&rec);
    return rc;
}

static int read_records(loader_t *l)
{
    const char *line;
    size_t len;
    record_t rec;
    record_error_t err;
    event_t ev;
    int rc, got;
    unsigned countdown = 1;

    while ((got = trace_reader_next(&l->r, &line, &len)) > 0) {
        /* Looking at the clock every 64K lines costs nothing measurable. */
        if (l->progress && --countdown == 0) {
            countdown = 1u << 16;
            progress_update(l->progress, l->path, trace_reader_consumed(&l->r), l->size);
        }
        if (l->cur && !l->lost && len > 0 && line[0] == '[' && l->cur->version >= 2) {
            int parsed = record_parse_event_v2(line, len, &l->base, &ev, &err);
            if (parsed == -2) {
                /* Not JSON: the end of what a killed process wrote, say. */
                if ((rc = unparsable(l, line, len, &err)) != LOAD_OK)
                    return rc;
                continue;
            }
            rc = parsed < 0 ? -1 : section_apply_event(l->cur, &ev, &err);
            if (rc == MODEL_NO_MEMORY)
                return LOAD_NO_MEMORY;
            if (rc)
                malformed(l, &err);
            continue;
        }
        if (l->cur && !l->lost && len > 0 && line[0] == '[' &&
            record_parse_event_fast(line, len, &ev)) {
            rc = section_apply_event(l->cur, &ev, &err);
            if (rc == MODEL_NO_MEMORY)
                return LOAD_NO_MEMORY;
            if (rc)
                malformed(l, &err);
            continue;
        }
        if (record_parse(&rec, line, len, &err) < 0) {
            rc = unparsable(l, line, len, &err);
        } else if (rec.kind == RECORD_PART) {
            record_clear(&rec);
            rc = take_piece(l, &rec);
        } else {
            rc = apply(l, &rec);
            record_clear(&rec);
        }
        if (rc != LOAD_OK)
            return rc;
    }
    if (got < 0) {
        if (errno == ENOMEM)
            return LOAD_NO_MEMORY;
        if (errno == EFBIG) {
            diag_refused(l->d, l->path, l->r.lineno + 1,
                         "a line longer than %d MiB (the longest this reader takes; the agent writes none): "
                         "not a memprof trace", TRACE_LINE_MAX >> 20);
            return LOAD_REFUSED;
        }
        diag_refused(l->d, l->path, 0, "cannot read: %s", strerror(errno));
        return LOAD_REFUSED;
    }
    if (l->r.lineno == 0) {
        diag_refused(l->d, l->path, 0, "not a memprof trace: the file is empty");
        return LOAD_REFUSED;
    }
    return LOAD_OK;
}

int load_trace(model_t *m, const char *path, diag_t *d)
{
    return load_trace_progress(m, path, d, NULL);
}

int load_trace_progress(model_t *m, const char *path, diag_t *d, progress_t *p)
{
    loader_t l = {.m = m, .d = d, .path = path, .first_section = m->nsections, .progress = p};
    int err = trace_reader_open(&l.r, path);
    struct stat st;
    int rc;

    if (err == ENOMEM)
        return LOAD_NO_MEMORY;
    if (err) {
        diag_refused(d, path, 0, "cannot open: %s", strerror(err));
        return LOAD_REFUSED;
    }
    if (fstat(l.r.fd, &st) == 0 && S_ISREG(st.st_mode))
        l.size = (unsigned long long)st.st_size;
    rc = read_records(&l);
    for (size_t i = 0; i < l.npieces; i++)
        free(l.pieces[i].buf);
    free(l.pieces);
    if (p)
        progress_end(p);
    trace_reader_destroy(&l.r);
    if (rc != LOAD_OK)
        model_truncate(m, l.first_section);
    return rc;
}
