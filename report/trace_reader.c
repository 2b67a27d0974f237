/*
 * trace_reader: block-buffered line splitting over read(2); see
 * trace_reader.h.  stdio's getline() would do, but memchr over a large block
 * is what keeps the reader out of the profile of a 10-million-event trace.
 */
#include "trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BLOCK = 1 << 20 };

int trace_reader_init_fd(trace_reader_t *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->buf = malloc(BLOCK);
    if (!r->buf)
        return ENOMEM;
    r->cap = BLOCK;
    return 0;
}

int trace_reader_open(trace_reader_t *r, const char *path)
{
    int fd, err;

    if (strcmp(path, "-") == 0)
        return trace_reader_init_fd(r, STDIN_FILENO);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    err = trace_reader_init_fd(r, fd);
    if (err) {
        close(fd);
        return err;
    }
    r->owns_fd = true;
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return 0;
}

/* Moves the unread tail to the front, grows the buffer if it is full, and
 * reads more.  Returns bytes read, 0 at end of file, -1 on error. */
static ssize_t refill(trace_reader_t *r)
{
    ssize_t n;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        if (r->cap >= TRACE_LINE_MAX) {
            errno = EFBIG;
            return -1;
        }
        char *bigger = realloc(r->buf, r->cap * 2);
        if (!bigger) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = bigger;
        r->cap *= 2;
    }
    do
        n = read(r->fd, r->buf + r->end, r->cap - r->end);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        r->end += (size_t)n;
        r->nread += (unsigned long long)n;
    }
    return n;
}

int trace_reader_next(trace_reader_t *r, const char **line, size_t *len)
{
    size_t scanned = 0;

    for (;;) {
        char *from = r->buf + r->start + scanned;
        char *nl = memchr(from, '\n', r->end - r->start - scanned);
        if (nl) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->start += *len + 1;
            r->lineno++;
            r->unterminated = false;
            return 1;
        }
        if (r->eof) {
            if (r->start == r->end)
                return 0;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            r->start = r->end;
            r->lineno++;
            r->unterminated = true;
            return 1;
        }
        scanned = r->end - r->start;
        ssize_t n = refill(r);
        if (n < 0)
            return -1;
        if (n == 0)
            r->eof = true;
    }
}

unsigned long long trace_reader_consumed(const trace_reader_t *r)
{
    return r->nread - (r->end - r->start);
}

void trace_reader_destroy(trace_reader_t *r)
{
    if (r->owns_fd)
        close(r->fd);
    free(r->buf);
    r->buf = NULL;
    r->owns_fd = false;
}
