/*
 * memprof-report: command line.  Parses options, loads every trace into one
 * model, then hands the model to a renderer.  Kept free of logic so that the
 * unit tests, which link everything but this file, cover what matters.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "load.h"
#include "model.h"
#include "render_table.h"
#include "source.h"

#ifndef MEMPROF_VERSION
#define MEMPROF_VERSION "1.0.0"
#endif

static const char usage_text[] =
    "Usage: memprof-report [OPTION]... TRACE...\n"
    "Print memory_profiler's line-by-line tables for memprof traces.\n"
    "\n"
    "For each function registered with @profile that ran, print its file, and\n"
    "for every line: the largest RSS seen there (Mem usage), the summed\n"
    "increments (Increment), how often it ran (Occurrences) and its source.\n"
    "With several processes (one trace holding a fork's child, or several\n"
    "traces), each process's tables follow a heading naming it.  TRACE may be\n"
    "- for standard input.\n"
    "\n"
    "Options:\n"
    "  --precision N      digits after the decimal point, 0 to 15 (default 3)\n"
    "  -o, --output FILE  write the tables to FILE instead of standard output\n"
    "  -h, --help         show this help and exit\n"
    "      --version      show the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0  tables printed (warnings allowed)\n"
    "  1  some records were malformed and skipped; tables still printed\n"
    "  2  usage error, or a trace could not be opened or was refused\n"
    "\n"
    "See memprof-report(1).\n";

enum { OPT_PRECISION = 256, OPT_VERSION };

static int usage_error(const char *fmt, const char *arg)
{
    fputs("memprof-report: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'memprof-report --help' for more information.\n", stderr);
    return EXIT_TROUBLE;
}

static int parse_precision(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > RENDER_MAX_PRECISION)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    render_options_t ro = {.precision = 3};
    const char *output = NULL;
    FILE *out = stdout;
    source_cache_t sources;
    model_t model;
    diag_t diag;
    int c, i;

    opterr = 0;     /* our own messages, named memprof-report whatever argv[0] */
    while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case OPT_PRECISION:
            if (parse_precision(optarg, &ro.precision))
                return usage_error("--precision: '%s' is not a whole number from 0 to 15",
                                   optarg);
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return EXIT_TABLES;
        case OPT_VERSION:
            printf("memprof-report %s\n", MEMPROF_VERSION);
            return EXIT_TABLES;
        case ':':
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            if (optopt) {
                char name[3] = {'-', (char)optopt, '\0'};
                return usage_error("unknown option '%s'", name);
            }
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc)
        return usage_error("%s", "no TRACE given");

    diag_init(&diag, stderr);
    /* Before the traces, so that a bad -o costs no reading time. */
    if (output && !(out = fopen(output, "w"))) {
        diag_refused(&diag, output, 0, "cannot open for writing: %s", strerror(errno));
        return EXIT_TROUBLE;
    }
    model_init(&model);
    for (i = optind; i < argc; i++) {
        if (load_trace(&model, argv[i], &diag) == LOAD_NO_MEMORY) {
            diag_refused(&diag, argv[i], 0, "out of memory");
            model_destroy(&model);
            if (out != stdout)
                fclose(out);
            return EXIT_TROUBLE;
        }
    }

    source_cache_init(&sources, &diag);
    if (render_tables(out, &model, &sources, &ro))
        diag_refused(&diag, NULL, 0, "out of memory");
    if (fflush(out) != 0 || ferror(out))
        diag_refused(&diag, output ? output : "standard output", 0, "cannot write: %s",
                     strerror(errno));
    if (out != stdout && fclose(out) != 0)
        diag_refused(&diag, output, 0, "cannot write: %s", strerror(errno));
    source_cache_destroy(&sources);
    model_destroy(&model);
    return diag_exit_status(&diag);
}
