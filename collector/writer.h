/*
 * writer: the trace's byte stream.
 *
 * One fixed buffer per process, filled by hand-formatted JSON and handed to
 * the kernel with write() when it fills up or when the agent asks for a
 * flush. Nothing here allocates or uses stdio, so it is safe on the
 * per-line path, in _exit and in fork handlers. Callers serialise access
 * (the agent holds the GIL whenever it writes).
 *
 * Every chunk written starts with a {"k":"pid"} record (or with a header,
 * which names the pid too) and holds whole lines only, so several processes can append to one file (O_APPEND) and a
 * reader can tell their records apart. On a pipe a chunk is at most
 * PIPE_BUF bytes, the size the kernel writes atomically.
 *
 * A record longer than a chunk (a long argv or path) is cut into pieces,
 * each a line of its own preceded by {"k":"part","pid":N,"last":0|1}: the
 * reader joins a pid's pieces until the last one (README, "The trace
 * format"). Pieces of different processes may interleave; each is whole.
 */
#ifndef MEMPROF_WRITER_H
#define MEMPROF_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define WRITER_BUF_SIZE (64 * 1024)
/* The longest record the hot path appends in one go. */
#define WRITER_MAX_EVENT 192

typedef struct writer {
    int fd;             /* -1 when off, and between writes in mapped and path mode */
    char *out;          /* where records go: buf, or the mapped region */
    int pid;            /* the pid the chunk marker names */
    size_t limit;       /* bytes per chunk: buffer size, or PIPE_BUF on pipes */
    size_t len;         /* bytes in buf */
    size_t rec;         /* where the record being written starts (== len between records) */
    char marker[40];    /* {"k":"pid",...}, written before each chunk */
    size_t marker_len;
    bool headed;        /* this chunk starts with a header: no marker needed */
    bool in_part;       /* the record being written did not fit a chunk: pieces */
    bool piece_first;   /* the chunk in buf starts with a piece */
    char part[48];      /* {"k":"part","pid":N,"last":0}\n, before each piece */
    size_t part_len;
    /* Bumped whenever the bytes that follow start a new chunk for a
     * reader: a new region or write(), a header, a part record. Events are
     * delta-encoded within one (trace.c), so each decodes on its own. */
    uint64_t chunk;
    bool failed;        /* a write failed: recording is off for good */
    bool is_pipe;       /* a pipe or socket: SIGPIPE possible, PIPE_BUF chunks */
    bool by_path;       /* chunks go to path, opened for each write only */
    uint64_t written;   /* bytes handed to the kernel, markers included */
    /* Mapped mode (a regular file named by path): records are written
     * straight into a shared mapping of a region reserved at the end of the
     * file, so each one is in the kernel's page cache the moment it is
     * complete, and a SIGKILL loses nothing. */
    bool mapped;
    char *map;          /* the mapping (page-aligned), or NULL */
    size_t map_len;
    bool fd_locked;     /* fd holds the file's lock (open only meanwhile) */
    off_t region_end;   /* file offset just past the mapped region */
    dev_t map_dev;      /* the file the region is in */
    ino_t map_ino;
    char path[4096];
    /* While set, a copy of every byte writer_raw() appends (the header's
     * argv, which a fork child repeats without asking Python). */
    struct writer_tap *tap;
    char buf[WRITER_BUF_SIZE];
} writer_t;

struct writer_tap {
    char *buf;          /* malloc'd, grown as needed; not for the hot path */
    size_t len, cap;
    bool lost;          /* out of memory: the copy is incomplete */
};

/* Prepares w to write to fd on behalf of pid. Returns false if fd is not usable. */
bool writer_init(writer_t *w, int fd, int pid);
/* Chunks appended to the regular file at path, opened for each write and
 * closed after it (the sampler's: a process keeps no descriptor of ours). */
bool writer_init_path(writer_t *w, const char *path, int pid);
/* Mapped mode on the regular file at path (opened again here, for a file
 * position of its own). Returns false if that is not possible. */
bool writer_init_mapped(writer_t *w, const char *path, int pid);
/* Mapped mode, when the process stops writing (exit, exec): unmaps the
 * region and gives back the padding after its last record, by truncating
 * the file when nothing of another writer's region follows it (writer.c).
 * A record written later starts a new region. Returns whether the padding
 * went (else it stays, which readers skip). */
bool writer_release(writer_t *w);
/* Bytes of the trace's own mapping resident in this process: they count in
 * the RSS, and the agent takes them out of what it reports. */
size_t writer_resident(const writer_t *w);
/* After fork: a new pid; drops whatever the parent left unwritten (in
 * mapped mode also the parent's mapping, and opens the file again). */
void writer_reset_pid(writer_t *w, int pid);
/* Writes out what is buffered. Returns false (and turns w off) on failure. */
bool writer_flush(writer_t *w);
/* The next record opens a process section (a header, which names the pid
 * itself): the chunk it starts needs no marker. Flushes what came before. */
void writer_begin_section(writer_t *w);

/* Makes room for n more bytes (flushing the complete records before the
 * current one if needed) and returns where to write them; writer_commit()
 * then says where the bytes ended and writer_end_record() that the record
 * is whole. Returns NULL when the writer is off. */
char *writer_reserve(writer_t *w, size_t n);
static inline void writer_commit(writer_t *w, char *end) { w->len = (size_t)(end - w->out); }
void writer_pad_after(writer_t *w);
/* The last piece of a record that was cut into pieces. */
void writer_end_pieces(writer_t *w);
static inline void writer_end_record(writer_t *w)
{
    if (w->in_part)
        writer_end_pieces(w);
    w->rec = w->len;
    if (w->mapped)
        writer_pad_after(w);
}

/* Moves a descriptor the agent opened to a high number (close-on-exec),
 * so that the program finds the low numbers it expects free, as it would
 * without the agent. Returns the descriptor to use. */
int fd_out_of_the_way(int fd);

/* Formatting into a reserved area; each returns the end of what it wrote. */
char *fmt_u64(char *p, uint64_t v);
char *fmt_i64(char *p, int64_t v);

/*
 * Appends a JSON string (quotes included) of the n bytes at s, escaping
 * what JSON requires and replacing each byte that is not part of valid
 * UTF-8 by U+FFFD. Returns false if the writer is off. *lossy, if not NULL,
 * is set when a replacement happened (the caller then writes the exact
 * bytes with writer_hex()).
 */
bool writer_string(writer_t *w, const char *s, size_t n, bool *lossy);
/* Appends the n bytes at s as a quoted string of hexadecimal digits. */
bool writer_hex(writer_t *w, const char *s, size_t n);
/* Appends raw text (JSON punctuation and keys) of any length. */
bool writer_raw(writer_t *w, const char *s, size_t n);
bool writer_cstr(writer_t *w, const char *s);
bool writer_int(writer_t *w, int64_t v);

#endif
