/*
 * source: reading and splitting source files; see source.h.  The cache is a
 * plain array searched linearly: a report names a handful of files, and each
 * is looked up once per table, never per event.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void source_cache_init(source_cache_t *c, diag_t *diag)
{
    c->diag = diag;
    c->files = NULL;
    c->nfiles = 0;
    c->cap = 0;
}

static void source_file_destroy(source_file_t *sf)
{
    free(sf->key);
    free(sf->data);
    free(sf->line_start);
    free(sf->line_len);
    free(sf);
}

void source_cache_destroy(source_cache_t *c)
{
    size_t i;

    for (i = 0; i < c->nfiles; i++)
        source_file_destroy(c->files[i]);
    free(c->files);
    c->files = NULL;
    c->nfiles = c->cap = 0;
}

/* Reads all of FD into sf->data; returns 0 or an errno value. */
static int slurp(source_file_t *sf, int fd, size_t *size)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);

    if (!buf)
        return ENOMEM;
    for (;;) {
        ssize_t got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = errno;
            free(buf);
            return err;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    sf->data = buf;
    *size = n;
    return 0;
}

/* Splits sf->data (SIZE bytes) into lines as linecache would. */
static int split_lines(source_file_t *sf, size_t size)
{
    size_t i = 0, start, cap = 64;

    if (size >= 3 && memcmp(sf->data, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    sf->line_start = malloc(cap * sizeof *sf->line_start);
    sf->line_len = malloc(cap * sizeof *sf->line_len);
    if (!sf->line_start || !sf->line_len)
        return ENOMEM;
    while (i < size) {
        start = i;
        while (i < size && sf->data[i] != '\n' && sf->data[i] != '\r')
            i++;
        if (sf->nlines == cap) {
            size_t *a = realloc(sf->line_start, cap * 2 * sizeof *a);
            if (!a)
                return ENOMEM;
            sf->line_start = a;
            a = realloc(sf->line_len, cap * 2 * sizeof *a);
            if (!a)
                return ENOMEM;
            sf->line_len = a;
            cap *= 2;
        }
        sf->line_start[sf->nlines] = start;
        sf->line_len[sf->nlines] = i - start;
        sf->nlines++;
        if (i < size && sf->data[i] == '\r' && i + 1 < size && sf->data[i + 1] == '\n')
            i++;
        if (i < size)
            i++;
    }
    return 0;
}

/* Opens the first candidate that exists; returns an fd, or -1 with *why set
 * to the most telling errno (anything beats "no such file"). */
/* Not an errno: the name is not a regular file (a device, a FIFO...). */
#define NOT_REGULAR (-1)

static int open_source(const file_def_t *f, const char *cwd, int *why)
{
    const char *candidate[3];
    char *joined = NULL;
    int n = 0, i, fd = -1;

    *why = ENOENT;
    if (f->abspath)
        candidate[n++] = f->abspath;
    const char *rel = f->open_path ? f->open_path : f->path;
    if (cwd && rel[0] != '/') {
        size_t lc = strlen(cwd), lp = strlen(rel);
        joined = malloc(lc + lp + 2);
        if (!joined) {
            *why = ENOMEM;
            return -1;
        }
        memcpy(joined, cwd, lc);
        joined[lc] = '/';
        memcpy(joined + lc + 1, rel, lp + 1);
        candidate[n++] = joined;
    }
    candidate[n++] = f->open_path ? f->open_path : f->path;
    for (i = 0; i < n && fd < 0; i++) {
        struct stat st;
        /* Non-blocking, so that a FIFO named by a trace cannot hang us. */
        fd = open(candidate[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 && (errno != ENOENT || *why == ENOENT))
            *why = errno;
        if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
            *why = NOT_REGULAR;
        }
    }
    free(joined);
    return fd;
}

static char *make_key(const file_def_t *f, const char *cwd)
{
    size_t lp = strlen(f->path), la = f->abspath ? strlen(f->abspath) : 0;
    size_t lc = cwd ? strlen(cwd) : 0;
    char *k = malloc(lp + la + lc + 3);

    if (!k)
        return NULL;
    memcpy(k, f->path, lp + 1);
    if (la)
        memcpy(k + lp + 1, f->abspath, la);
    k[lp + 1 + la] = '\0';
    if (lc)
        memcpy(k + lp + la + 2, cwd, lc);
    k[lp + la + 2 + lc] = '\0';
    return k;
}

static bool same_key(const char *a, const char *b)
{
    int i;

    for (i = 0; i < 3; i++) {
        if (strcmp(a, b) != 0)
            return false;
        a += strlen(a) + 1;
        b += strlen(b) + 1;
    }
    return true;
}

static source_file_t *load(source_cache_t *c, const file_def_t *f, const char *cwd)
{
    source_file_t *sf = calloc(1, sizeof *sf);
    struct stat st;
    size_t size = 0;
    int fd, err;

    if (!sf || !(sf->key = make_key(f, cwd))) {
        free(sf);
        return NULL;
    }
    fd = open_source(f, cwd, &err);
    if (fd >= 0) {
        if (fstat(fd, &st) < 0)
            err = errno;
        else if (S_ISDIR(st.st_mode))
            err = EISDIR;
        else
            err = slurp(sf, fd, &size);
        close(fd);
    }
    if (err == ENOMEM && fd >= 0) {
        source_file_destroy(sf);
        return NULL;
    }
    if (fd < 0 || err) {
        diag_warning(c->diag, "%s: cannot read source (%s); rows show no line contents",
                     f->path, err == NOT_REGULAR ? "not a regular file" : strerror(err));
        return sf;
    }
    if (split_lines(sf, size)) {
        source_file_destroy(sf);
        return NULL;
    }
    sf->readable = true;
    if (f->has_stat &&
        ((long long)st.st_size != f->size ||
         (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != f->mtime_ns))
        diag_warning(c->diag, "%s: changed since it was profiled; line contents may not match",
                     f->path);
    return sf;
}

const source_file_t *source_cache_get(source_cache_t *c, const file_def_t *f, const char *cwd)
{
    source_file_t *sf;
    char *key = make_key(f, cwd);
    size_t i;

    if (!key)
        return NULL;
    for (i = 0; i < c->nfiles; i++)
        if (same_key(c->files[i]->key, key)) {
            free(key);
            return c->files[i];
        }
    free(key);
    if (c->nfiles == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        source_file_t **p = realloc(c->files, cap * sizeof *p);
        if (!p)
            return NULL;
        c->files = p;
        c->cap = cap;
    }
    sf = load(c, f, cwd);
    if (sf)
        c->files[c->nfiles++] = sf;
    return sf;
}

bool source_line(const source_file_t *sf, int lineno, const char **text, size_t *len)
{
    if (!sf->readable || lineno < 1 || (size_t)lineno > sf->nlines)
        return false;
    *text = sf->data + sf->line_start[lineno - 1];
    *len = sf->line_len[lineno - 1];
    return true;
}
