/*
 * Unit tests of the collector without an interpreter: the writer's JSON
 * strings and chunks, and the records the trace layer writes (parsed back
 * with jansson).
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "trace.h"
#include "warn.h"
#include "writer.h"

static writer_t w;

/* Everything written to a temporary file, as a NUL-terminated string. */
static char *slurp_fd(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)size + 1);
    if (buf && pread(fd, buf, (size_t)size, 0) != size)
        buf[0] = 0;
    return buf;
}

static int temp_fd(void)
{
    char name[] = "/tmp/memprof-test-XXXXXX";
    int fd = mkstemp(name);
    unlink(name);
    return fd;
}

/* One JSON string written by writer_string, decoded by jansson. */
static void check_string_round_trip(const char *s, size_t n, bool want_lossy)
{
    int fd = temp_fd();
    bool lossy;
    CHECK(writer_init(&w, fd, 1));
    writer_raw(&w, "[", 1);
    writer_string(&w, s, n, &lossy);
    writer_raw(&w, "]\n", 2);
    writer_end_record(&w);
    CHECK(writer_flush(&w));
    char *text = slurp_fd(fd);
    const char *line = strchr(text, '\n') + 1;     /* after the pid marker */
    json_error_t err;
    json_t *v = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v)
        fprintf(stderr, "not JSON: %s (%s)\n", line, err.text);
    CHECK(v != NULL);
    CHECK(lossy == want_lossy);
    if (v && !want_lossy) {
        const char *got = json_string_value(json_array_get(v, 0));
        size_t got_len = json_string_length(json_array_get(v, 0));
        CHECK(got && got_len == n && memcmp(got, s, n) == 0);
    }
    json_decref(v);
    free(text);
    close(fd);
}

static void test_strings(void)
{
    check_string_round_trip("plain.py", 8, false);
    check_string_round_trip("q\"uo\\te", 7, false);
    check_string_round_trip("new\nline\ttab\x1b[31m", 18, false);
    check_string_round_trip("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d", 15, false);
    check_string_round_trip("with\0nul", 8, false);
    check_string_round_trip("bad\xff\xfe", 5, true);
    check_string_round_trip("overlong \xc0\xaf", 11, true);
    check_string_round_trip("surrogate \xed\xa0\x80", 13, true);
    check_string_round_trip("cut \xe2\x82", 6, true);

    char buf[32];
    char *end = fmt_i64(buf, -1234567890123LL);
    *end = 0;
    CHECK_STR(buf, "-1234567890123");
    end = fmt_u64(buf, 18446744073709551615ULL);
    *end = 0;
    CHECK_STR(buf, "18446744073709551615");
    end = fmt_u64(buf, 0);
    *end = 0;
    CHECK_STR(buf, "0");
}

/* The integer formatters against snprintf: every power of ten and its
 * neighbours (where the digit count changes), the extremes, and a spread of
 * pseudo-random values of every length. */
static void test_integers(void)
{
    char got[32], want[32];
    int bad = 0;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        uint64_t v;
        if (i < 20 * 3) {
            uint64_t p = 1;
            for (int k = 0; k < i / 3; k++)
                p *= 10;
            v = p - 1 + (uint64_t)(i % 3);
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = x >> (x % 64);
        }
        *fmt_u64(got, v) = 0;
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        bad += strcmp(got, want) != 0;
        *fmt_i64(got, (int64_t)v) = 0;
        snprintf(want, sizeof want, "%lld", (long long)(int64_t)v);
        bad += strcmp(got, want) != 0;
        *fmt_i64(got, -(int64_t)(v >> 1)) = 0;
        snprintf(want, sizeof want, "%lld", -(long long)(v >> 1));
        bad += strcmp(got, want) != 0;
    }
    *fmt_i64(got, INT64_MIN) = 0;
    CHECK_STR(got, "-9223372036854775808");
    *fmt_u64(got, UINT64_MAX) = 0;
    CHECK_STR(got, "18446744073709551615");
    CHECK(bad == 0);
}

/* On a packet socket each write() arrives as one message: every chunk must
 * be whole lines, start with a pid marker and fit in PIPE_BUF. */
static void test_chunks(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    CHECK(writer_init(&w, sv[0], 4242));
    char record[300];
    memset(record, 'x', sizeof record);
    record[0] = '"';
    record[sizeof record - 2] = '"';
    record[sizeof record - 1] = '\n';
    for (int i = 0; i < 100; i++) {
        /* written in pieces, as definitions are */
        writer_raw(&w, record, 100);
        writer_raw(&w, record + 100, sizeof record - 100);
        writer_end_record(&w);
    }
    CHECK(writer_flush(&w));
    shutdown(sv[0], SHUT_WR);
    char msg[8192];
    ssize_t n;
    int chunks = 0, lines = 0;
    bool whole = true;
    while ((n = recv(sv[1], msg, sizeof msg, 0)) > 0) {
        chunks++;
        whole = whole && n <= 4096 && msg[n - 1] == '\n'
                && strncmp(msg, "{\"k\":\"pid\",\"pid\":4242}\n", 23) == 0;
        for (ssize_t i = 0; i < n; i++)
            lines += msg[i] == '\n';
    }
    CHECK(whole);
    CHECK(chunks > 1);
    CHECK(lines == 100 + chunks);
    close(sv[0]);
    close(sv[1]);
}

/* A record longer than a chunk (20 KB) between short ones, through a
 * socket that keeps each write() apart: every chunk is at most PIPE_BUF
 * and starts with a pid record or a piece's part record, and the pieces,
 * joined, give the record back. */
static void test_long_record_in_pieces(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    CHECK(writer_init(&w, sv[0], 4242));
    static char payload[20000];
    memset(payload, 'y', sizeof payload);
    writer_cstr(&w, "[\"short\"]\n");
    writer_end_record(&w);
    writer_cstr(&w, "{\"k\":\"code\",\"name\":");
    writer_string(&w, payload, sizeof payload, NULL);
    writer_cstr(&w, "}\n");
    writer_end_record(&w);
    writer_cstr(&w, "[\"after\"]\n");
    writer_end_record(&w);
    CHECK(writer_flush(&w));
    shutdown(sv[0], SHUT_WR);
    static char msg[8192], joined[32768];
    size_t joined_len = 0;
    ssize_t n;
    int chunks = 0, last_pieces = 0;
    bool ok = true;
    static const char part0[] = "{\"k\":\"part\",\"pid\":4242,\"last\":0}\n";
    static const char part1[] = "{\"k\":\"part\",\"pid\":4242,\"last\":1}\n";
    while ((n = recv(sv[1], msg, sizeof msg, 0)) > 0) {
        chunks++;
        msg[n] = 0;
        ok = ok && n <= 4096 && msg[n - 1] == '\n';
        /* Walk the chunk's lines: a part record takes the next line. */
        char *line = msg;
        bool first = true;
        while (*line) {
            char *nl = strchr(line, '\n');
            if (!nl) {
                ok = false;
                break;
            }
            size_t len = (size_t)(nl - line) + 1;
            bool piece = len == sizeof part0 - 1 && (!memcmp(line, part0, len) || !memcmp(line, part1, len));
            if (first)
                ok = ok && (piece || !strncmp(line, "{\"k\":\"pid\",\"pid\":4242}\n", 23));
            first = false;
            if (piece) {
                bool last = line[len - 3] == '1';
                char *p = nl + 1, *pe = strchr(p, '\n');
                if (!pe || joined_len + (size_t)(pe - p) >= sizeof joined) {
                    ok = false;
                    break;
                }
                size_t plen = (size_t)(pe - p);
                memcpy(joined + joined_len, p, plen);
                joined_len += plen;
                last_pieces += last;
                line = pe + 1;
            } else {
                line = nl + 1;
            }
        }
    }
    CHECK(ok);
    CHECK(chunks > 5);
    CHECK(last_pieces == 1);
    joined[joined_len] = 0;
    json_error_t err;
    json_t *rec = json_loads(joined, 0, &err);
    CHECK(rec != NULL);
    if (rec) {
        const char *name = json_string_value(json_object_get(rec, "name"));
        CHECK(name && strlen(name) == sizeof payload && name[0] == 'y');
        json_decref(rec);
    }
    close(sv[0]);
    close(sv[1]);
}

static void fake_argv(writer_t *out)
{
    writer_cstr(out, "[\"prog.py\",\"arg\"]");
}

static void fake_namer(char *buf, size_t size, unsigned long *ident)
{
    snprintf(buf, size, "MainThread");
    *ident = 77;
}

static json_t **parse_lines(char *text, size_t *count)
{
    size_t cap = 64, n = 0;
    json_t **v = malloc(cap * sizeof *v);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        json_error_t err;
        v[n] = json_loads(line, JSON_DECODE_ANY, &err);
        CHECK(v[n] != NULL);
        if (v[n])
            n++;
    }
    *count = n;
    return v;
}

static const char *kind_of(json_t *v)
{
    return json_is_object(v) ? json_string_value(json_object_get(v, "k")) : "event";
}

static void test_records(void)
{
    int fd = temp_fd();
    struct trace_section_info info = { .write_argv = fake_argv, .python = "3.11.9" };
    static int code_a, code_b;      /* stand-ins for code objects */
    CHECK(trace_init(fd, NULL, &info));
    trace_set_thread_namer(fake_namer);
    uint32_t file = trace_file_define("prog\xff.py", 8);
    CHECK(file == 1);
    CHECK(trace_file_define("prog\xff.py", 8) == file);
    struct trace_code a = { .key = &code_a, .file = file, .name = "f", .qualname = "K.f",
                            .firstlineno = 3, .first = 3, .last = 9 };
    uint32_t id_a = trace_code_define(&a);
    struct trace_code b = { .key = &code_b, .file = file, .name = "<lambda>",
                            .qualname = "K.f.<locals>.<lambda>", .firstlineno = 5, .top = id_a };
    uint32_t id_b = trace_code_define(&b);
    CHECK(id_a == 1 && id_b == 2);
    CHECK(trace_code_lookup(&code_a) == id_a && trace_code_lookup(&code_b) == id_b);
    CHECK(trace_code_lookup(&file) == 0);
    trace_event(TRACE_CALL, id_a, 3);
    trace_event(TRACE_LINE, id_a, 4);
    trace_event(TRACE_RETURN, id_a, 4);
    /* A fork child starts a section of its own and defines everything again. */
    trace_before_fork();
    trace_after_fork_child();
    trace_event(TRACE_LINE, id_b, 5);
    trace_end();

    char *text = slurp_fd(fd);
    size_t n;
    json_t **v = parse_lines(text, &n);
    /* The child's chunk starts with its header: no pid marker needed. */
    const char *want[] = { "memprof", "file", "code", "code", "thread", "event", "event",
                           "event", "memprof", "file", "code", "code", "thread", "event", "end" };
    CHECK(n == 15);
    if (n == 15) {
        for (size_t i = 0; i < n; i++)
            CHECK_STR(kind_of(v[i]), want[i]);
        CHECK(json_integer_value(json_object_get(v[0], "version")) == 2);
        CHECK_STR(json_string_value(json_array_get(json_object_get(v[0], "argv"), 1)), "arg");
        CHECK_STR(json_string_value(json_object_get(v[1], "path_hex")), "70726f67ff2e7079");
        CHECK(json_integer_value(json_object_get(v[3], "top")) == 1);
        CHECK(json_object_get(v[3], "lines") == NULL);
        CHECK(json_integer_value(json_array_get(json_object_get(v[2], "lines"), 1)) == 9);
        CHECK_STR(json_string_value(json_object_get(v[4], "name")), "MainThread");
        /* The chunk's first event carries t and the RSS (KiB) whole. */
        CHECK(json_array_size(v[5]) == 5);
        CHECK(json_integer_value(json_array_get(v[5], 0)) == TRACE_CALL);
        CHECK(json_integer_value(json_array_get(v[5], 3)) > 0);
        CHECK(json_integer_value(json_array_get(v[5], 4)) > 1000);
        /* The next ones the changes; an unchanged RSS is left out. */
        CHECK(json_integer_value(json_array_get(v[6], 2)) == 4);
        CHECK(json_array_size(v[6]) == 4 || json_array_size(v[6]) == 5);
        CHECK(json_integer_value(json_array_get(v[6], 3)) >= 0);
        CHECK(json_integer_value(json_array_get(v[7], 3)) >= 0);
        /* The child's section starts a chunk: its first event is whole. */
        CHECK(json_array_size(v[13]) == 5 && json_integer_value(json_array_get(v[13], 4)) > 1000);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
    free(text);
    close(fd);
}

/* A write that fails turns recording off with one warning. */
static void test_write_failure(void)
{
    int full = open("/dev/full", O_WRONLY);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    warn_reset();
    CHECK(writer_init(&w, full, 1));
    writer_raw(&w, "{}\n", 3);
    writer_end_record(&w);
    CHECK(!writer_flush(&w));
    CHECK(warn_given());
    CHECK(writer_reserve(&w, 10) == NULL);
    dup2(saved, 2);
    close(saved);
    close(null);
    close(full);
}

int main(void)
{
    test_strings();
    test_integers();
    test_chunks();
    test_long_record_in_pieces();
    test_records();
    test_write_failure();
    return check_summary();
}
