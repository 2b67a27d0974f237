/*
 * writer: see writer.h. Only system calls reach the kernel; no stdio and
 * no malloc, because this runs inside _exit, inside fork handlers and on
 * every traced line.
 *
 * Several processes append to one trace file. Whatever changes the file's
 * length (appending a region or a chunk, trimming the padding at exit)
 * happens under an open file description lock on the whole file, taken
 * on a descriptor opened for that moment only: the agent keeps none open
 * between writes.
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>

#include "warn.h"

/* Room kept free in every chunk for a piece's part record and newline. */
#define PART_ROOM(w) ((w)->part_len + 1)
#define REGION (32 * 1024)

/* What the padding of a mapped region needs; see below. */
#define PAD_HEAD "{\"k\":\"pad\",\"s\":\""
#define PAD_HEAD_LEN (sizeof PAD_HEAD - 1)
#define PAD_TAIL_LEN 3      /* "}\n */

static void put_marker(writer_t *w)
{
    static const char head[] = "{\"k\":\"pid\",\"pid\":";
    static const char part[] = "{\"k\":\"part\",\"pid\":";
    char *p = w->marker;
    memcpy(p, head, sizeof head - 1);
    p = fmt_u64(p + sizeof head - 1, (uint64_t)w->pid);
    *p++ = '}';
    *p++ = '\n';
    w->marker_len = (size_t)(p - w->marker);
    p = w->part;
    memcpy(p, part, sizeof part - 1);
    p = fmt_u64(p + sizeof part - 1, (uint64_t)w->pid);
    memcpy(p, ",\"last\":0}\n", 11);
    w->part_len = (size_t)(p + 11 - w->part);
    /* Bytes of records per chunk: what the kernel keeps whole, less the
     * chunk's marker and the room a piece's part record needs. */
    if (w->mapped)
        w->limit = REGION - PAD_HEAD_LEN - PAD_TAIL_LEN - PART_ROOM(w);
    else
        w->limit = (w->is_pipe ? PIPE_BUF : WRITER_BUF_SIZE) - w->marker_len - PART_ROOM(w);
}

/* Turns the bytes of the record being written, [rec, len), into a piece:
 * its part record goes in front, and a piece that is not the last gets a
 * newline of its own (the last one ends with the record's). */
static void close_piece(writer_t *w, bool last)
{
    size_t n = w->len - w->rec;
    char *at = w->out + w->rec;
    memmove(at + w->part_len, at, n);
    memcpy(at, w->part, w->part_len);
    at[w->part_len - 3] = last ? '1' : '0';
    w->len += w->part_len;
    if (!last)
        w->out[w->len++] = '\n';
    w->rec = w->len;
    w->chunk++;
}

void writer_end_pieces(writer_t *w)
{
    w->in_part = false;
    close_piece(w, true);
}

/* The buffer's pages made resident now, before the program's code runs:
 * touched for the first time later, each would add a page to the RSS
 * charged to whichever line happened to be running. */
static void make_resident(writer_t *w)
{
    memset(w->buf, 0, sizeof w->buf);
}

bool writer_init(writer_t *w, int fd, int pid)
{
    struct stat st;
    w->out = w->buf;
    w->mapped = false;
    w->map = NULL;
    w->fd = -1;
    w->by_path = false;
    w->failed = false;
    w->written = 0;
    w->len = w->rec = 0;
    w->headed = false;
    if (fd < 0 || fcntl(fd, F_GETFL) < 0 || fstat(fd, &st) < 0)
        return false;
    w->fd = fd;
    w->pid = pid;
    w->in_part = w->piece_first = false;
    /* Pipes and sockets keep writes whole only up to PIPE_BUF bytes. */
    w->is_pipe = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
    put_marker(w);
    make_resident(w);
    return true;
}

bool writer_init_path(writer_t *w, const char *path, int pid)
{
    size_t n = strlen(path);
    if (n >= sizeof w->path)
        return false;
    memcpy(w->path, path, n + 1);
    w->out = w->buf;
    w->mapped = false;
    w->map = NULL;
    w->fd = -1;
    w->by_path = true;
    w->failed = false;
    w->written = 0;
    w->len = w->rec = 0;
    w->headed = false;
    w->pid = pid;
    w->in_part = w->piece_first = false;
    w->is_pipe = false;
    put_marker(w);
    make_resident(w);
    return true;
}

int fd_out_of_the_way(int fd)
{
    if (fd < 0)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
    if (high < 0)
        return fd;      /* a low RLIMIT_NOFILE: keep it where it is */
    close(fd);
    return high;
}

/* ---- mapped mode ---- */

static size_t map_page = 4096;  /* set from sysconf() when mapping starts */

/* What a region holds until records replace it: one padding record,
 * {"k":"pad","s":"   ...   "}, which readers skip as a kind they need not
 * know. After each record the padding record's head is written again, so
 * the rest of the region is always one valid line; a record a kill cut
 * short is followed by the padding's spaces, which tells a reader what
 * happened. */
static const char padding[REGION] = {
    [0 ... REGION - 4] = ' ', [REGION - 3] = '"', [REGION - 2] = '}', [REGION - 1] = '\n',
};

void writer_pad_after(writer_t *w)
{
    memcpy(w->out + w->len, PAD_HEAD, PAD_HEAD_LEN);
}

static bool fail(writer_t *w, const char *what, int err)
{
    w->failed = true;
    warn_errno(what, err);
    return false;
}

/* Opens the trace at w->path and takes the lock on the whole file; *locked
 * says whether that worked (a file system without OFD locks: the file is
 * still written, but never trimmed). A file renamed over the path while we
 * waited (memprof compacting a finished run) is opened again. */
static int open_locked(writer_t *w, int flags, bool *locked)
{
    for (int tries = 0;; tries++) {
        int fd = fd_out_of_the_way(open(w->path, flags | O_CLOEXEC | O_NOFOLLOW));
        if (fd < 0)
            return fd;
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int rc;
        while ((rc = fcntl(fd, F_OFD_SETLKW, &lock)) < 0 && errno == EINTR)
            ;
        *locked = rc == 0;
        struct stat mine, named;
        if (!*locked || tries == 8 || fstat(fd, &mine) != 0 || stat(w->path, &named) != 0
            || (mine.st_dev == named.st_dev && mine.st_ino == named.st_ino))
            return fd;
        close(fd);
    }
}

/* Explicitly: a mapping of the file keeps its description, and with it
 * the lock, alive after close(). */
static void close_locked(int fd, bool locked)
{
    struct flock unlock = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
    if (locked)
        fcntl(fd, F_OFD_SETLK, &unlock);
    close(fd);
}

static bool open_mapped(writer_t *w)
{
    w->fd = open_locked(w, O_RDWR | O_APPEND, &w->fd_locked);
    return w->fd >= 0;
}

static bool map_region(writer_t *w);

/* Appends a region of padding to the file and maps it. The descriptor is
 * open only meanwhile: the mapping does not need it, and a process holds
 * none of the agent's between regions (a program that lists its fds sees
 * nothing of memprof's). */
static bool new_region(writer_t *w)
{
    if (w->map)
        munmap(w->map, w->map_len);
    w->map = NULL;
    if (!open_mapped(w))
        return fail(w, "cannot open the trace; recording stops", errno);
    bool ok = map_region(w);
    close_locked(w->fd, w->fd_locked);
    w->fd = -1;
    return ok;
}

static bool map_region(writer_t *w)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t done = 0;
    while (done < REGION) {
        ssize_t n = write(w->fd, padding + done, REGION - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(w, "cannot write the trace; recording stops", n < 0 ? errno : EIO);
        done += (size_t)n;
    }
    w->written += REGION;
    /* O_APPEND on a file description of our own: the position is the end of
     * what we just wrote, whoever else appends to the file. */
    off_t end = lseek(w->fd, 0, SEEK_CUR);
    if (end < REGION)
        return fail(w, "cannot find the trace region", errno);
    off_t start = end - REGION, base = start & ~(off_t)(page - 1);
    /* MAP_POPULATE: every page of the region is resident from here on, so
     * the trace's share of the RSS is the mapping's length, a constant the
     * agent subtracts. Left to fault in, the pages would count as the
     * kernel maps them, a whole page-cache folio at a time on current
     * kernels (up to 7 pages at the first record), which no model of which
     * pages were touched can follow. */
    void *m = mmap(NULL, (size_t)(end - base), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   w->fd, base);
    if (m == MAP_FAILED)
        return fail(w, "cannot map the trace; recording stops", errno);
    struct stat st;
    if (fstat(w->fd, &st) == 0) {
        w->map_dev = st.st_dev;
        w->map_ino = st.st_ino;
    }
    w->map = m;
    w->map_len = (size_t)(end - base);
    w->region_end = end;
    w->out = w->map + (start - base);
    /* A region that goes on with a piece needs no pid record: the piece's
     * part record names the pid. */
    size_t head = w->in_part ? 0 : w->marker_len;
    memcpy(w->out, w->marker, head);
    w->len = w->rec = head;
    w->chunk++;
    writer_pad_after(w);
    return true;
}

bool writer_init_mapped(writer_t *w, const char *path, int pid)
{
    struct stat st;
    size_t n = strlen(path);
    w->out = w->buf;
    w->map = NULL;
    w->failed = false;
    w->written = 0;
    w->len = w->rec = 0;
    w->headed = false;
    w->is_pipe = false;
    w->by_path = false;
    w->in_part = false;
    w->mapped = true;
    w->pid = pid;
    put_marker(w);
    w->mapped = false;
    if (n >= sizeof w->path)
        return false;
    memcpy(w->path, path, n + 1);
    if (!open_mapped(w))
        return false;
    bool regular = fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode);
    close_locked(w->fd, w->fd_locked);
    w->fd = -1;
    if (!regular)
        return false;
    w->mapped = true;
    make_resident(w);
    map_page = (size_t)sysconf(_SC_PAGESIZE);
    return true;
}

/* Records of other writers longer than this after our region are left
 * where they are (moving them costs their length at exit, and a buffer of
 * this size). */
#define TAIL_MOVE_MAX (64 * 1024)

/* Whether [from, to) of fd holds a region: a region of another process,
 * maybe still being written through its mapping, is never moved. Every
 * region ends with its padding's tail, a space and "}\n, from the moment
 * it is appended (under the lock) until its owner gives the padding back;
 * no record writes over it. The padding's head ("k":"pad", which inside a
 * JSON string could only appear escaped) is not enough on its own: a
 * writer overwrites it with its next record before writing it again after
 * that record, and a region read in between has none. A record of another
 * kind that ends with a string ending in a space also matches: such a tail
 * is then left where it is, which costs only its padding. */
static bool holds_a_region(int fd, off_t from, off_t to)
{
    static const char head[] = "\"k\":\"pad\"";
    static const char tail[] = " \"}\n";
    enum { HEAD = sizeof head - 1, TAIL = sizeof tail - 1, KEEP = HEAD - 1 };
    char buf[4096 + KEEP];
    size_t kept = 0;
    for (off_t at = from; at < to;) {
        size_t want = (size_t)(to - at) < 4096 ? (size_t)(to - at) : 4096;
        ssize_t n = pread(fd, buf + kept, want, at);
        if (n <= 0)
            return true;        /* unreadable: assume the worst */
        size_t have = kept + (size_t)n;
        if (memmem(buf, have, head, HEAD) || memmem(buf, have, tail, TAIL))
            return true;
        kept = have < KEEP ? have : KEEP;
        memmove(buf, buf + have - kept, kept);
        at += n;
    }
    return false;
}

/* Moves [from, size) of fd down to cut and ends the file after it: read
 * whole first, then written with one pwrite, then the file ended, so that
 * the records are in the file twice only between those two calls (a
 * process killed after a partial move would leave a piece of them twice,
 * which a reader would count twice). The caller blocks the signals. */
static bool move_tail_and_trim(int fd, off_t cut, off_t from, off_t size)
{
    static char buf[TAIL_MOVE_MAX];
    size_t len = (size_t)(size - from), have = 0;
    while (have < len) {
        ssize_t n = pread(fd, buf + have, len - have, from + (off_t)have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    ssize_t n;
    while ((n = pwrite(fd, buf, len, cut)) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)len)
        return ftruncate(fd, cut + (off_t)len) == 0;
    /* A short write (a full disk): the bytes it wrote go back to what they
     * were, our padding (its head at cut, spaces, its tail ending at from)
     * and past it the records themselves, so that none is in the file
     * twice. Rewriting blocks that exist needs no room. */
    if (n > 0) {
        static char was[TAIL_MOVE_MAX];
        for (size_t i = 0; i < (size_t)n; i++) {
            off_t at = cut + (off_t)i;
            was[i] = at >= from ? buf[at - from]
                     : i < PAD_HEAD_LEN ? PAD_HEAD[i]
                     : at >= from - PAD_TAIL_LEN ? "\"}\n"[at - (from - PAD_TAIL_LEN)] : ' ';
        }
        (void)!pwrite(fd, was, (size_t)n, cut);
    }
    return false;
}

bool writer_release(writer_t *w)
{
    if (!w->mapped || !w->map || w->failed)
        return false;
    bool whole = !w->in_part && w->rec == w->len;
    off_t cut = w->region_end - REGION + (off_t)w->rec;
    munmap(w->map, w->map_len);
    w->map = NULL;
    w->out = w->buf;
    w->len = w->rec = 0;
    w->in_part = false;
    bool lock_held, trimmed = false;
    /* Not O_APPEND, with which pwrite() would append. */
    int fd = whole ? open_locked(w, O_RDWR, &lock_held) : -1;
    if (fd < 0)
        return false;
    /* Once the lock is ours, every signal is held off (the sampler's thread
     * blocks them all): a process told to end at its exit (a Pool's
     * terminate() does so) ends once the file is consistent again, not with
     * a move half done. The wait for the lock stays interruptible. */
    sigset_t all, old_mask;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old_mask);
    struct stat st;
    if (lock_held && fstat(fd, &st) == 0 && st.st_dev == w->map_dev && st.st_ino == w->map_ino
        && st.st_size >= w->region_end) {
        off_t end = w->region_end;
        if (st.st_size == end)
            trimmed = ftruncate(fd, cut) == 0;
        else if (st.st_size - end <= TAIL_MOVE_MAX && !holds_a_region(fd, end, st.st_size))
            /* Only whole chunks other writers appended (memory samples):
             * they follow our last record instead of our padding. */
            trimmed = move_tail_and_trim(fd, cut, end, st.st_size);
    }
    close_locked(fd, lock_held);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return trimmed;
}

size_t writer_resident(const writer_t *w)
{
    if (!w->map)
        return 0;
    return (w->map_len + map_page - 1) / map_page * map_page;
}

void writer_reset_pid(writer_t *w, int pid)
{
    w->chunk++;
    if (w->mapped) {
        /* The parent's mapping and file position are the parent's. */
        if (w->map)
            munmap(w->map, w->map_len);
        w->map = NULL;
        w->out = w->buf;
        w->pid = pid;
        put_marker(w);
        w->len = w->rec = 0;
        w->headed = false;
        w->in_part = w->piece_first = false;
        return;
    }
    w->pid = pid;
    put_marker(w);
    w->len = w->rec = 0;
    w->headed = false;
    w->in_part = w->piece_first = false;
}

/* Writes the first len bytes of the buffer, after the chunk marker, in one
 * writev() so the chunk reaches the file whole; keeps the rest. */
static bool write_out(writer_t *w, size_t len)
{
    /* A chunk that starts with a header or a piece names its pid already. */
    bool bare = w->headed || w->piece_first;
    struct iovec iov[2] = {
        { w->marker, bare ? 0 : w->marker_len },
        { w->buf, len },
    };
    int first = bare ? 1 : 0;
    size_t total = iov[0].iov_len + len;
    size_t done = 0;
    /* A pipe whose reader is gone raises SIGPIPE, which would kill a
     * program that does not ignore it: block it around the write and take
     * back the one our write raised. */
    sigset_t pipe_only, old_mask, pending;
    bool guard = w->is_pipe;
    bool was_pending = false;
    if (guard) {
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
    }
    bool path_locked = false;
    if (w->by_path && (w->fd = open_locked(w, O_WRONLY | O_APPEND, &path_locked)) < 0) {
        w->failed = true;
        warn_errno("cannot open the trace; recording stops", errno);
        return false;
    }
    while (done < total) {
        ssize_t n = writev(w->fd, iov + first, 2 - first);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            if (guard) {
                struct timespec zero = { 0, 0 };
                if (err == EPIPE && !was_pending)
                    sigtimedwait(&pipe_only, NULL, &zero);
                pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
            }
            w->failed = true;
            warn_errno("cannot write the trace; recording stops", err);
            if (w->by_path) {
                close_locked(w->fd, path_locked);
                w->fd = -1;
            }
            return false;
        }
        done += (size_t)n;
        /* A short write: go on from where it stopped. */
        while (first < 2 && (size_t)n >= iov[first].iov_len) {
            n -= (ssize_t)iov[first].iov_len;
            first++;
        }
        if (first < 2) {
            iov[first].iov_base = (char *)iov[first].iov_base + n;
            iov[first].iov_len -= (size_t)n;
        }
    }
    if (guard)
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (w->by_path) {
        close_locked(w->fd, path_locked);
        w->fd = -1;
    }
    w->written += total;
    w->chunk++;
    w->headed = false;
    w->piece_first = w->in_part;
    memmove(w->buf, w->buf + len, w->len - len);
    w->rec = w->rec > len ? w->rec - len : 0;
    w->len -= len;
    return true;
}

/* Whether w writes: a mapped writer holds no descriptor between regions. */
static bool writer_on(const writer_t *w)
{
    return !w->failed && (w->mapped || w->by_path || w->fd >= 0);
}

bool writer_flush(writer_t *w)
{
    if (!writer_on(w))
        return false;
    if (w->mapped || w->rec == 0)
        return true;    /* mapped: every complete record is in the kernel already */
    return write_out(w, w->rec);
}

void writer_begin_section(writer_t *w)
{
    w->chunk++;     /* the header starts one */
    if (w->mapped) {
        /* A header names its pid: it may stand where the region's pid
         * record is, if nothing else was written there yet. */
        if (!w->failed && (w->map || new_region(w)) && w->len == w->marker_len) {
            memset(w->out, ' ', w->marker_len + PAD_HEAD_LEN);
            w->len = w->rec = 0;
            writer_pad_after(w);
        }
        return;
    }
    if (writer_flush(w) && w->len == 0)
        w->headed = true;
}

/* Mapped mode: room for n more bytes, in a new region if needed, with the
 * part of the record written so far moved there. */
static char *reserve_mapped(writer_t *w, size_t n)
{
    if (!w->map && !new_region(w))
        return NULL;
    if (w->len + n <= w->limit)
        return w->out + w->len;
    size_t partial = w->len - w->rec;
    if (w->marker_len + partial + n > w->limit) {
        /* Longer than a region: what is written of it stays here as a
         * piece, and the record goes on in the next region. */
        close_piece(w, false);
        w->in_part = true;
        writer_pad_after(w);
        if (!new_region(w))
            return NULL;
        return w->out + w->len;
    }
    memcpy(w->buf, w->out + w->rec, partial);
    /* The old region ends with padding from where the moved record began. */
    memset(w->out + w->rec, ' ', partial + PAD_HEAD_LEN);
    memcpy(w->out + w->rec, PAD_HEAD, PAD_HEAD_LEN);
    if (!new_region(w))
        return NULL;
    memcpy(w->out + w->len, w->buf, partial);
    w->len += partial;
    return w->out + w->len;
}

char *writer_reserve(writer_t *w, size_t n)
{
    if (!writer_on(w))
        return NULL;
    if (w->mapped)
        return reserve_mapped(w, n);
    if (w->len + n > w->limit) {
        if (w->rec > 0 && !write_out(w, w->rec))
            return NULL;
        /* A single record longer than a chunk: what is written of it
         * goes out as a piece, and the rest follows in the next chunks. */
        if (w->len + n > w->limit) {
            close_piece(w, false);
            w->in_part = true;
            w->piece_first = true;
            if (!write_out(w, w->len))
                return NULL;
        }
    }
    return w->buf + w->len;
}

/* Two digits per division, from a table, right to left into a field
 * whose width is known first: a line event formats four or five numbers of
 * up to 11 digits, which one digit at a time cost a third of the agent's
 * instructions per event. */
static const char two_digits[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t pow10_table[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

static inline int decimal_digits(uint64_t v)
{
    /* bits * log10(2), rounded down, is the count or one less. */
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    int n = t + (v >= pow10_table[t]);
    return n ? n : 1;
}

char *fmt_u64(char *p, uint64_t v)
{
    char *end = p + decimal_digits(v);
    char *q = end;
    /* Below 10^8, 32-bit arithmetic, which is cheaper. */
    while (v >= 100000000ull) {
        uint64_t r = v % 100;
        v /= 100;
        q -= 2;
        memcpy(q, two_digits + 2 * r, 2);
    }
    uint32_t u = (uint32_t)v;
    while (u >= 100) {
        uint32_t r = u % 100;
        u /= 100;
        q -= 2;
        memcpy(q, two_digits + 2 * r, 2);
    }
    if (u >= 10) {
        q -= 2;
        memcpy(q, two_digits + 2 * u, 2);
    } else {
        *--q = (char)('0' + u);
    }
    return end;
}

char *fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return fmt_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return fmt_u64(p, (uint64_t)v);
}

static void tap_append(struct writer_tap *t, const char *s, size_t n)
{
    if (t->lost)
        return;
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->lost = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

bool writer_raw(writer_t *w, const char *s, size_t n)
{
    if (w->tap)
        tap_append(w->tap, s, n);
    size_t room = w->mapped ? w->limit - w->marker_len : w->limit;
    while (n) {
        size_t k = n < room ? n : room;
        char *p = writer_reserve(w, k);
        if (!p)
            return false;
        memcpy(p, s, k);
        writer_commit(w, p + k);
        s += k;
        n -= k;
    }
    return true;
}

bool writer_cstr(writer_t *w, const char *s)
{
    return writer_raw(w, s, strlen(s));
}

bool writer_int(writer_t *w, int64_t v)
{
    char *p = writer_reserve(w, 24);
    if (!p)
        return false;
    writer_commit(w, fmt_i64(p, v));
    return true;
}

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool writer_string(writer_t *w, const char *s, size_t n, bool *lossy)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    if (lossy)
        *lossy = false;
    if (!writer_raw(w, "\"", 1))
        return false;
    size_t i = 0;
    while (i < n) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t j = i;
        while (j < n && u[j] >= 0x20 && u[j] != '"' && u[j] != '\\' && u[j] < 0x80)
            j++;
        if (j > i && !writer_raw(w, s + i, j - i))
            return false;
        i = j;
        if (i >= n)
            break;
        char esc[8];
        size_t k;
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\'; esc[1] = (char)c; k = 2; i++;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; k = 6; i++;
        } else {
            size_t len = utf8_seq(u + i, n - i);
            if (len) {
                memcpy(esc, s + i, len); k = len; i += len;
            } else {
                memcpy(esc, "\xef\xbf\xbd", 3); k = 3; i++;
                if (lossy)
                    *lossy = true;
            }
        }
        if (!writer_raw(w, esc, k))
            return false;
    }
    return writer_raw(w, "\"", 1);
}

bool writer_hex(writer_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!writer_raw(w, "\"", 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char two[2] = { hex[c >> 4], hex[c & 15] };
        if (!writer_raw(w, two, 2))
            return false;
    }
    return writer_raw(w, "\"", 1);
}
