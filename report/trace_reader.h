/*
 * trace_reader: streams a trace file as lines.
 *
 * A trace can hold hundreds of millions of events, so it is never loaded
 * whole: the reader keeps one block buffer and hands out lines that point
 * into it, valid until the next call.  The buffer grows only when a single
 * line is longer than it (a long argv or path), so memory stays flat however
 * many events the trace holds.
 */
#ifndef MEMPROF_REPORT_TRACE_READER_H
#define MEMPROF_REPORT_TRACE_READER_H

#include <stdbool.h>
#include <stddef.h>

/* The longest line handed out (the agent writes none longer than 64 KiB):
 * a longer one, such as a file without newlines, is an error (EFBIG)
 * rather than a buffer that grows without bound. */
#define TRACE_LINE_MAX (16 << 20)

typedef struct trace_reader {
    int fd;
    bool owns_fd;
    char *buf;
    size_t cap;
    size_t start;           /* first byte not yet handed out */
    size_t end;             /* one past the last byte read */
    bool eof;
    long lineno;            /* line number of the line handed out last */
    bool unterminated;      /* that line had no final newline */
    unsigned long long nread;   /* bytes read from the fd so far */
} trace_reader_t;

/* Opens PATH ("-" is standard input).  Returns 0 or an errno value. */
int trace_reader_open(trace_reader_t *r, const char *path);

/* Reads from an fd the caller keeps open; returns 0 or an errno value. */
int trace_reader_init_fd(trace_reader_t *r, int fd);

/*
 * Hands out the next line without its newline.  Returns 1 for a line, 0 at
 * the end of the file, -1 on a read error, out of memory or a line longer
 * than TRACE_LINE_MAX (errno is set: EFBIG).
 */
int trace_reader_next(trace_reader_t *r, const char **line, size_t *len);

/* Bytes handed out so far (for progress). */
unsigned long long trace_reader_consumed(const trace_reader_t *r);

void trace_reader_destroy(trace_reader_t *r);

#endif
