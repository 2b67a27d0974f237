/*
 * writer: see writer.h. Only write(), fstat() and fcntl() reach the
 * kernel; no stdio and no malloc, because this runs inside _exit, inside
 * fork handlers and on every traced line.
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>

#include "warn.h"

static void put_marker(writer_t *w)
{
    static const char head[] = "{\"k\":\"pid\",\"pid\":";
    char *p = w->marker;
    memcpy(p, head, sizeof head - 1);
    p = fmt_u64(p + sizeof head - 1, (uint64_t)w->pid);
    *p++ = '}';
    *p++ = '\n';
    w->marker_len = (size_t)(p - w->marker);
}

bool writer_init(writer_t *w, int fd, int pid)
{
    struct stat st;
    w->fd = -1;
    w->failed = false;
    w->written = 0;
    w->len = w->rec = 0;
    w->headed = false;
    if (fd < 0 || fcntl(fd, F_GETFL) < 0 || fstat(fd, &st) < 0)
        return false;
    w->fd = fd;
    w->pid = pid;
    put_marker(w);
    /* Pipes and sockets keep writes whole only up to PIPE_BUF bytes. */
    w->is_pipe = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
    w->limit = w->is_pipe ? PIPE_BUF : WRITER_BUF_SIZE;
    w->limit -= w->marker_len;
    return true;
}

void writer_reset_pid(writer_t *w, int pid)
{
    w->limit += w->marker_len;
    w->pid = pid;
    put_marker(w);
    w->limit -= w->marker_len;
    w->len = w->rec = 0;
    w->headed = false;
}

/* Writes the first len bytes of the buffer, after the chunk marker, in one
 * writev() so the chunk reaches the file whole; keeps the rest. */
static bool write_out(writer_t *w, size_t len)
{
    struct iovec iov[2] = {
        { w->marker, w->headed ? 0 : w->marker_len },
        { w->buf, len },
    };
    int first = w->headed ? 1 : 0;
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
    w->written += total;
    w->headed = false;
    memmove(w->buf, w->buf + len, w->len - len);
    w->rec = w->rec > len ? w->rec - len : 0;
    w->len -= len;
    return true;
}

bool writer_flush(writer_t *w)
{
    if (w->fd < 0 || w->failed)
        return false;
    if (w->rec == 0)
        return true;
    return write_out(w, w->rec);
}

void writer_begin_section(writer_t *w)
{
    if (writer_flush(w) && w->len == 0)
        w->headed = true;
}

char *writer_reserve(writer_t *w, size_t n)
{
    if (w->fd < 0 || w->failed)
        return NULL;
    if (w->len + n > w->limit) {
        if (w->rec > 0 && !write_out(w, w->rec))
            return NULL;
        /* A single record longer than a chunk cannot stay whole. */
        if (w->len + n > w->limit) {
            if (!write_out(w, w->len))
                return NULL;
            w->rec = 0;
        }
    }
    return w->buf + w->len;
}

char *fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        *p++ = tmp[--i];
    return p;
}

char *fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return fmt_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return fmt_u64(p, (uint64_t)v);
}

bool writer_raw(writer_t *w, const char *s, size_t n)
{
    size_t room = w->limit;
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
