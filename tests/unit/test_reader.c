/* Unit tests of trace_reader (line splitting, long and unterminated lines),
 * source (linecache's line splitting) and load (how bad input is reported). */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "diag.h"
#include "load.h"
#include "source.h"
#include "trace_reader.h"

static char tmpdir[] = "/tmp/memprof-test-XXXXXX";

static const char *write_file(const char *name, const char *data, size_t len)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return path;
}

static void test_lines_and_unterminated_last(void)
{
    trace_reader_t r;
    const char *line;
    size_t len;
    const char *path = write_file("a.jsonl", "one\n\nthree", 10);

    CHECK(trace_reader_open(&r, path) == 0);
    CHECK(trace_reader_next(&r, &line, &len) == 1 && len == 3 && !r.unterminated);
    CHECK(trace_reader_next(&r, &line, &len) == 1 && len == 0 && r.lineno == 2);
    CHECK(trace_reader_next(&r, &line, &len) == 1 && len == 5 && r.unterminated);
    CHECK(memcmp(line, "three", 5) == 0 && r.lineno == 3);
    CHECK(trace_reader_next(&r, &line, &len) == 0);
    trace_reader_destroy(&r);
    CHECK(trace_reader_open(&r, "/nonexistent/x.jsonl") != 0);
}

static void test_line_longer_than_the_buffer(void)
{
    size_t big = (3u << 20) + 17, len;
    char *data = malloc(big + 4);
    trace_reader_t r;
    const char *line;

    CHECK(data != NULL);
    if (!data)
        return;
    memset(data, 'x', big);
    memcpy(data + big, "\nab\n", 4);
    CHECK(trace_reader_open(&r, write_file("b.jsonl", data, big + 4)) == 0);
    CHECK(trace_reader_next(&r, &line, &len) == 1 && len == big && line[big - 1] == 'x');
    CHECK(trace_reader_next(&r, &line, &len) == 1 && len == 2 && !r.unterminated);
    CHECK(trace_reader_next(&r, &line, &len) == 0);
    trace_reader_destroy(&r);
    free(data);
}

static void test_source_lines_like_linecache(void)
{
    static const char text[] = "\xef\xbb\xbf" "a\r\nb\rc\n\nd";
    source_cache_t c;
    diag_t d;
    file_def_t f = {0};
    const source_file_t *sf;
    const char *line;
    size_t len;
    char *err = NULL;
    size_t errlen = 0;
    FILE *errs = open_memstream(&err, &errlen);

    diag_init(&d, errs);
    source_cache_init(&c, &d);
    f.path = (char *)write_file("s.py", text, sizeof text - 1);
    f.has_stat = true;
    f.size = 1;
    sf = source_cache_get(&c, &f, NULL);
    CHECK(sf && sf->readable && sf->nlines == 5);
    CHECK(source_line(sf, 1, &line, &len) && len == 1 && line[0] == 'a');
    CHECK(source_line(sf, 3, &line, &len) && len == 1 && line[0] == 'c');
    CHECK(source_line(sf, 4, &line, &len) && len == 0);
    CHECK(source_line(sf, 5, &line, &len) && len == 1 && line[0] == 'd');
    CHECK(!source_line(sf, 6, &line, &len));
    CHECK(source_cache_get(&c, &f, NULL) == sf);    /* one warning only */
    f.path = "/nonexistent/gone.py";
    sf = source_cache_get(&c, &f, NULL);
    CHECK(sf && !sf->readable && !source_line(sf, 1, &line, &len));
    source_cache_destroy(&c);
    fclose(errs);
    CHECK(d.warnings == 2);
    CHECK(strstr(err, "changed since it was profiled") != NULL);
    CHECK(strstr(err, "gone.py: cannot read source (No such file or directory)") != NULL);
    free(err);
}

/* Loads DATA as a trace; returns what load_trace() returned. */
static int load(const char *data, model_t *m, diag_t *d, char **err)
{
    size_t errlen;
    FILE *errs = open_memstream(err, &errlen);
    int rc;

    diag_init(d, errs);
    model_init(m);
    rc = load_trace(m, write_file("t.jsonl", data, strlen(data)), d);
    fclose(errs);
    return rc;
}

static void test_load_reports(void)
{
    model_t m;
    diag_t d;
    char *err = NULL;
    static const char head[] =
        "{\"k\":\"memprof\",\"version\":1,\"pid\":7,\"ppid\":1,\"argv\":[\"x.py\"]}\n"
        "{\"k\":\"file\",\"id\":1,\"path\":\"x.py\"}\n"
        "{\"k\":\"code\",\"id\":1,\"file\":1,\"top\":1,\"lines\":[1,2]}\n";
    char buf[1024];

    snprintf(buf, sizeof buf, "%s[1,1,1,0,0]\n[0,1,2,1048576,1]\n[0,5,2,1,1]\n[2,1,2,3", head);
    CHECK(load(buf, &m, &d, &err) == LOAD_OK);
    CHECK(m.nsections == 1 && m.sections[0]->tables[0].measured);
    CHECK(d.malformed == 1 && d.warnings == 1 && diag_exit_status(&d) == 1);
    CHECK(strstr(err, "t.jsonl:6: event refers to code 5, which is not defined\n") != NULL);
    CHECK(strstr(err, "warning: ") && strstr(err, "t.jsonl:7: truncated last record"));
    model_destroy(&m);
    free(err);

    CHECK(load("{\"k\":\"memprof\",\"version\":3,\"pid\":7}\n", &m, &d, &err) == LOAD_REFUSED);
    CHECK(m.nsections == 0 && diag_exit_status(&d) == 2);
    CHECK(strstr(err, "t.jsonl:1: trace format version 3 is newer than this memprof-report "
                      "reads (2)\n") != NULL);
    model_destroy(&m);
    free(err);

    CHECK(load("[1,1,1,0,0]\n", &m, &d, &err) == LOAD_REFUSED);
    CHECK(strstr(err, "not a memprof trace") != NULL);
    model_destroy(&m);
    free(err);
}

/* Format 2: each chunk (up to a pid, part or header record) decodes on its
 * own; a record a kill cut short is a warning. */
static void test_load_v2(void)
{
    model_t m;
    diag_t d;
    char *err = NULL;
    static const char trace[] =
        "{\"k\":\"memprof\",\"version\":2,\"pid\":7,\"ppid\":1,\"argv\":[\"x.py\"]}\n"
        "{\"k\":\"file\",\"id\":1,\"path\":\"x.py\"}\n"
        "{\"k\":\"code\",\"id\":1,\"file\":1,\"top\":1,\"lines\":[1,2]}\n"
        "[1,1,1,100,1000]\n"
        "[0,1,2,50,24]\n"
        "[0,1,2,7        \"}\n"
        "{\"k\":\"pid\",\"pid\":7}\n"
        "[0,1,2,400,2048]\n"
        "[2,1,2,10]\n";

    CHECK(load(trace, &m, &d, &err) == LOAD_OK);
    CHECK(m.nsections == 1 && m.sections[0]->version == 2 && m.sections[0]->tables[0].measured);
    CHECK(m.sections[0]->peak_rss == 2048LL * 1024 && m.sections[0]->peak_t == 400);
    CHECK(m.sections[0]->t_first == 100 && m.sections[0]->t_last == 410);
    CHECK(d.malformed == 0 && d.warnings == 1);
    CHECK(strstr(err, "t.jsonl:6: truncated record") != NULL);
    model_destroy(&m);
    free(err);
}

int main(void)
{
    char cmd[64];

    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_lines_and_unterminated_last();
    test_line_longer_than_the_buffer();
    test_source_lines_like_linecache();
    test_load_reports();
    test_load_v2();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}
