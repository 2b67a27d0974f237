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
#include <unistd.h>

#include "diag.h"
#include "diff.h"
#include "load.h"
#include "model.h"
#include "progress.h"
#include "render_csv.h"
#include "render_html.h"
#include "render_json.h"
#include "render_svg.h"
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
    "- for standard input.  Traces with peaks or heap figures get Peak,\n"
    "Allocated, Freed and Heap peak columns after Increment.  Under a table, a\n"
    "note names the Increments that are artefacts of memory_profiler's rule (they\n"
    "differ from what the line cost by more than the function's highest Mem\n"
    "usage).  Views that rank lines rank by that cost, the exact-mode increment.\n"
    "\n"
    "Options:\n"
    "  --precision N        digits after the decimal point, 0 to 15 (default 3)\n"
    "  -o, --output FILE    write the report to FILE instead of standard output\n"
    "  --format FORMAT      text (default), json, csv or html (one self-contained\n"
    "                       page: plot, top lines, tables shaded by exact-mode\n"
    "                       increment)\n"
    "  --plot FILE.svg      also write memory over time as an SVG plot (SVG only:\n"
    "                       FILE must end in .svg), with when each profiled\n"
    "                       function ran and the peak's line\n"
    "  --top N              the N lines that cost the most (largest exact-mode\n"
    "                       increment) across all functions (text: instead of the\n"
    "                       tables; json: a \"top\" list; csv: those rows only;\n"
    "                       html: N top lines)\n"
    "  --diff               compare two traces of one program: memprof-report\n"
    "                       --diff OLD NEW (text, or --format json)\n"
    "  --mode MODE          compat (default): memory_profiler's arithmetic;\n"
    "                       exact: each line is charged the RSS after it minus\n"
    "                       the RSS before it, in its own frame (needs events: not\n"
    "                       for a trace of MEMPROF_AGGREGATE=1)\n"
    "  --threads HOW        merge (default): one table per function for all its\n"
    "                       threads; split: a table per function and thread\n"
    "  --processes HOW      split (default for tables): a section per process;\n"
    "                       merge: the processes of one pool (children of one\n"
    "                       parent running one command) as one section.  The plot\n"
    "                       draws a pool as its sum unless split\n"
    "  -h, --help           show this help and exit\n"
    "      --version        show the version and exit\n"
    "\n"
    "On a terminal, long reads show their progress on standard error, and text\n"
    "output is coloured (growth red, shrinkage green) unless NO_COLOR is set.\n"
    "\n"
    "Exit status (--diff too, whatever the differences):\n"
    "  0  report printed (warnings allowed)\n"
    "  1  some records were malformed and skipped; the report still printed\n"
    "  2  usage error, or a trace could not be opened or was refused, or\n"
    "     --mode exact or --top on a trace of table snapshots only\n"
    "\n"
    "See memprof-report(1).\n";

enum { OPT_PRECISION = 256, OPT_VERSION, OPT_FORMAT, OPT_PLOT, OPT_TOP, OPT_DIFF, OPT_MODE, OPT_THREADS, OPT_PROCESSES };

typedef enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_CSV, FORMAT_HTML } format_t;

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

static int parse_format(const char *s, format_t *out)
{
    static const char *const names[] = {"text", "json", "csv", "html"};
    int i;

    for (i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (format_t)i;
            return 0;
        }
    return -1;
}

static int parse_count(const char *s, size_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* https://no-color.org: set and not empty turns colour off. */
static bool colour_wanted(FILE *out)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(no && *no);
}

static int render(FILE *out, format_t format, const model_t *m, source_cache_t *sources,
                  const render_options_t *o)
{
    switch (format) {
    case FORMAT_JSON:
        return render_json(out, m, sources, o);
    case FORMAT_CSV:
        return render_csv(out, m, sources, o);
    case FORMAT_HTML:
        return render_html(out, m, sources, o);
    default:
        return o->top ? render_top(out, m, sources, o) : render_tables(out, m, sources, o);
    }
}

/* A plot opened early and never drawn (the traces were refused). */
static void drop_plot(FILE *f, const char *path)
{
    if (f) {
        fclose(f);
        unlink(path);
    }
}

static bool svg_name(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".svg") == 0;
}

static void write_plot(FILE *f, const char *path, const model_t *m, bool split, diag_t *diag)
{
    if (render_svg(f, m, true, split))
        diag_refused(diag, NULL, 0, "out of memory");
    if (fflush(f) != 0 || ferror(f))
        diag_refused(diag, path, 0, "cannot write: %s", strerror(errno));
    if (fclose(f) != 0)
        diag_refused(diag, path, 0, "cannot write: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"plot", required_argument, NULL, OPT_PLOT},
        {"top", required_argument, NULL, OPT_TOP},
        {"diff", no_argument, NULL, OPT_DIFF},
        {"mode", required_argument, NULL, OPT_MODE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"processes", required_argument, NULL, OPT_PROCESSES},
        {NULL, 0, NULL, 0},
    };
    render_options_t ro = {.precision = 3};
    const char *output = NULL, *plot = NULL, *processes = NULL;
    format_t format = FORMAT_TEXT;
    bool diff = false, exact = false, split = false;
    FILE *out = stdout, *plot_file = NULL;
    source_cache_t sources;
    model_t model, old_model;
    progress_t progress;
    diag_t diag;
    int c, i, rc;

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
        case OPT_FORMAT:
            if (parse_format(optarg, &format))
                return usage_error("--format: '%s' is not text, json, csv or html", optarg);
            break;
        case OPT_PLOT:
            if (!svg_name(optarg))
                return usage_error("--plot: '%s': only SVG is drawn: give a file name ending "
                                   "in .svg", optarg);
            plot = optarg;
            break;
        case OPT_TOP:
            if (parse_count(optarg, &ro.top))
                return usage_error("--top: '%s' is not a whole number of 1 or more", optarg);
            break;
        case OPT_DIFF:
            diff = true;
            break;
        case OPT_MODE:
            if (strcmp(optarg, "compat") && strcmp(optarg, "exact"))
                return usage_error("--mode: '%s' is not compat or exact", optarg);
            exact = !strcmp(optarg, "exact");
            break;
        case OPT_THREADS:
            if (strcmp(optarg, "merge") && strcmp(optarg, "split"))
                return usage_error("--threads: '%s' is not merge or split", optarg);
            split = !strcmp(optarg, "split");
            break;
        case OPT_PROCESSES:
            if (strcmp(optarg, "merge") && strcmp(optarg, "split"))
                return usage_error("--processes: '%s' is not merge or split", optarg);
            processes = optarg;
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
    if (diff && argc - optind != 2)
        return usage_error("%s", "--diff compares two traces: --diff OLD NEW");
    if (diff && (format == FORMAT_CSV || format == FORMAT_HTML))
        return usage_error("%s", "--diff writes text or json only");

    diag_init(&diag, stderr);
    /* Before the traces, so that a bad -o or --plot costs no reading time. */
    if (output && !(out = fopen(output, "w"))) {
        diag_refused(&diag, output, 0, "cannot open for writing: %s", strerror(errno));
        return EXIT_TROUBLE;
    }
    if (plot && !(plot_file = fopen(plot, "w"))) {
        diag_refused(&diag, plot, 0, "cannot open for writing: %s", strerror(errno));
        if (out != stdout)
            fclose(out);
        return EXIT_TROUBLE;
    }
    progress_init(&progress, stderr, isatty(STDERR_FILENO));
    model_init(&model);
    model_init(&old_model);
    model.opt.exact = old_model.opt.exact = exact;
    model.opt.split_threads = old_model.opt.split_threads = split;
    for (i = optind; i < argc; i++) {
        model_t *into = diff && i == optind ? &old_model : &model;
        if (load_trace_progress(into, argv[i], &diag, &progress) == LOAD_NO_MEMORY ||
            model_finish(into)) {
            diag_refused(&diag, argv[i], 0, "out of memory");
            model_destroy(&model);
            model_destroy(&old_model);
            if (out != stdout)
                fclose(out);
            drop_plot(plot_file, plot);
            return EXIT_TROUBLE;
        }
    }

    /* --mode exact and the rankings need what each line cost, which only
     * events give; the HTML page and --diff say so in place instead. */
    if (exact || (ro.top && !diff && format != FORMAT_HTML)) {
        const section_t *missing = model_events_missing(&old_model);
        if (!missing)
            missing = model_events_missing(&model);
        if (missing) {
            diag_refused(&diag, missing->trace, missing->snapshot_line,
                         "%s per-line events, and this trace holds table snapshots only "
                         "(MEMPROF_AGGREGATE=1; the first is here): record it again with "
                         "MEMPROF_AGGREGATE=both or 0", exact ? "--mode exact needs"
                                       : "--top ranks lines by their exact-mode increment, "
                                         "which needs");
            model_destroy(&model);
            model_destroy(&old_model);
            if (out != stdout)
                fclose(out);
            drop_plot(plot_file, plot);
            return diag_exit_status(&diag);
        }
    }
    ro.peak = model_has_peak(&model) || model_has_peak(&old_model);
    ro.heap = model_has_heap(&model) || model_has_heap(&old_model);
    ro.colour = format == FORMAT_TEXT && colour_wanted(out);
    /* Tables keep a section per process unless asked; the plot sums a pool. */
    ro.merge_processes = processes && !strcmp(processes, "merge");
    ro.plot_split = processes && !strcmp(processes, "split");
    source_cache_init(&sources, &diag);
    if (diff)
        rc = render_diff(out, &old_model, &model, argv[optind], argv[optind + 1], &sources, &ro,
                         format == FORMAT_JSON);
    else
        rc = render(out, format, &model, &sources, &ro);
    if (rc)
        diag_refused(&diag, NULL, 0, "out of memory");
    if (plot_file)
        write_plot(plot_file, plot, &model, ro.plot_split, &diag);
    if (fflush(out) != 0 || ferror(out))
        diag_refused(&diag, output ? output : "standard output", 0, "cannot write: %s",
                     strerror(errno));
    if (out != stdout && fclose(out) != 0)
        diag_refused(&diag, output, 0, "cannot write: %s", strerror(errno));
    source_cache_destroy(&sources);
    model_destroy(&model);
    model_destroy(&old_model);
    return diag_exit_status(&diag);
}
