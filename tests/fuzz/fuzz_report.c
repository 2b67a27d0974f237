/*
 * fuzz_report: libFuzzer target for memprof-report's trace reading.
 *
 * Each input is one trace file.  It goes through the entry main.c uses,
 * load_trace() on a path, then through render_tables() into /dev/null, so
 * that whatever the loader accepts is also rendered.  The input lives in a
 * memfd and is named by /proc/self/fd/N, because load_trace() takes a path.
 *
 * Source files: a trace names arbitrary paths (/dev/zero, a FIFO) that the
 * report would open to print Line Contents.  To keep runs deterministic and
 * the fuzzer off the real disk, open() is wrapped at link time
 * (-Wl,--wrap=open): the trace's own path passes, every other path gets a
 * fixed in-memory Python source with odd line endings and bytes.
 *
 * Built by `make fuzz` (see the Makefile); also usable as a replayer:
 * build/fuzz/fuzz_report FILE... runs each file once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diag.h"
#include "load.h"
#include "model.h"
#include "render_table.h"
#include "source.h"

int __real_open(const char *path, int flags, ...);

static char trace_path[64];

static const char fake_source[] =
    "@profile\n"
    "def f():\r\n"
    "    a = [1] * 10\r"
    "    b = '\xff\xfe\x1b[31m'\n"
    "\n"
    "    return a\t# tab\n"
    "\xef\xbb\xbf# a BOM that is not at the start\n";

int __wrap_open(const char *path, int flags, ...)
{
    int mode = 0, fd;

    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, int);
        va_end(ap);
    }
    /* Outside an input (libFuzzer's own files) and for the trace itself. */
    if (!trace_path[0] || strcmp(path, trace_path) == 0)
        return __real_open(path, flags, mode);
    fd = memfd_create("fuzz-source", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (write(fd, fake_source, sizeof fake_source - 1) != (ssize_t)(sizeof fake_source - 1) ||
        lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull, *quiet;
    source_cache_t sources;
    render_options_t ro = {.precision = 3};
    model_t model;
    diag_t diag;
    int fd;

    if (!devnull)
        devnull = fopen("/dev/null", "w");
    if (!quiet)
        quiet = fopen("/dev/null", "w");
    fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
    if (fd < 0 || !devnull || !quiet)
        __builtin_trap();
    if (size && write(fd, data, size) != (ssize_t)size)
        __builtin_trap();
    snprintf(trace_path, sizeof trace_path, "/proc/self/fd/%d", fd);

    diag_init(&diag, quiet);
    model_init(&model);
    if (load_trace(&model, trace_path, &diag) != LOAD_NO_MEMORY) {
        source_cache_init(&sources, &diag);
        render_tables(devnull, &model, &sources, &ro);
        source_cache_destroy(&sources);
    }
    model_destroy(&model);
    (void)diag_exit_status(&diag);
    close(fd);
    trace_path[0] = '\0';
    return 0;
}
