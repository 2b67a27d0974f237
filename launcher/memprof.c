/*
 * memprof: run a command under the agent, then print its tables.
 *
 *     memprof [options] COMMAND [ARGS...]
 *
 * The counterpart of `python -m memory_profiler script.py`: it preloads
 * libmemprof.so into COMMAND (and so into every process it starts), waits
 * for it, runs memprof-report on the trace, says on stderr where the trace
 * is, and exits with the command's own status.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "compact.h"
#include "tree.h"

static const char usage[] =
    "Usage: memprof [OPTION]... COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND with memprof's agent preloaded (a Python script may be given\n"
    "directly: `memprof script.py` runs `python3 script.py`), then prints the\n"
    "line-by-line memory tables of its @profile functions (and of the code\n"
    "--files and --functions select), as `python -m memory_profiler` does.\n"
    "\n"
    "Options:\n"
    "  -o, --output TRACE   where to write the trace (default memprof.PID.jsonl)\n"
    "  -f, --force          overwrite TRACE if it exists\n"
    "  --precision N        digits after the decimal point in the tables (default 3)\n"
    "  -n, --no-report      write the trace but print no tables (--plot still draws)\n"
    "  --files PATTERNS     profile every function and the module code of the\n"
    "                       matching source files, no decorator needed\n"
    "                       (MEMPROF_FILES; e.g. --files 'app.py,src/*.py')\n"
    "  --functions PATTERNS\n"
    "                       profile the matching functions, no decorator needed\n"
    "                       (MEMPROF_FUNCTIONS; e.g. 'mod:func,mod:Class.*')\n"
    "  --interval TIME      sample memory over time every TIME (MEMPROF_INTERVAL;\n"
    "                       e.g. 10ms, 0.5s, off)\n"
    "  --peak               also record the peak RSS inside each line (MEMPROF_PEAK)\n"
    "  --heap               also record heap allocations per line and the peak\n"
    "                       (MEMPROF_HEAP)\n"
    "  --aggregate          keep the tables in the process, write no events\n"
    "                       (MEMPROF_AGGREGATE: for long runs; without events\n"
    "                       there is no --mode exact and no --top)\n"
    "  --plot FILE.svg      also draw memory over time into FILE.svg (SVG only)\n"
    "  --include-children   also sample the whole process tree's memory from\n"
    "                       outside every --interval (children that are not\n"
    "                       Python too); --plot draws its total\n"
    "  --multiprocess       as --include-children, and --plot draws one line per\n"
    "                       process of the tree\n"
    "  --format FORMAT      the report's format: text, json, csv or html\n"
    "  --mode MODE          compat (memory_profiler's numbers) or exact\n"
    "  --threads HOW        merge (one table per function) or split (per thread)\n"
    "  --processes HOW      split (a section per process, the default) or merge\n"
    "                       (the processes of one pool, same command, as one)\n"
    "  --top N              print the N lines that cost the most (by exact-mode\n"
    "                       increment) instead of the tables\n"
    "  --report-output FILE\n"
    "                       write the report to FILE instead of standard output\n"
    "  --compact TRACE      remove the padding records a run left in TRACE and\n"
    "                       exit (memprof does it after each run; for traces of\n"
    "                       the bare LD_PRELOAD form)\n"
    "  -h, --help           this text\n"
    "  --version            memprof's version\n"
    "\n"
    "Environment:\n"
    "  MEMPROF_OUTPUT       the trace's path (%p: the pid; default memprof.%p.jsonl)\n"
    "  MEMPROF_FD           write the trace to this inherited descriptor instead\n"
    "  MEMPROF_FILES        --files: source files to profile without decorators\n"
    "  MEMPROF_FUNCTIONS    --functions: module:qualname patterns to profile\n"
    "  MEMPROF_INTERVAL     --interval: memory sampling period (default 10ms; off)\n"
    "  MEMPROF_PEAK         --peak: 1 records the peak RSS inside each line\n"
    "  MEMPROF_HEAP         --heap: 1 records heap allocations per line\n"
    "  MEMPROF_AGGREGATE    --aggregate: 1 writes table snapshots, not events;\n"
    "                       both writes both\n"
    "  MEMPROF_RSS          where the RSS comes from: auto or tracepoint (the\n"
    "                       kmem:rss_stat tracepoint where permitted, else\n"
    "                       /proc/self/statm; auto is the default), statm, or\n"
    "                       check (both at every event, for tests)\n"
    "  MEMPROF_COMPAT       0: import memory_profiler is not served by memprof\n"
    "  MEMPROF_PYTHON       the interpreter a .py script runs with (default\n"
    "                       python3; python -m memprof sets it to itself)\n"
    "  MEMPROF_LAUNCHER     set by memprof for COMMAND: memory_profiler's imported\n"
    "                       profile then leaves the tables to the report; not\n"
    "                       for users\n"
    "  MEMPROF_QUIET        1: the bare LD_PRELOAD form does not name its trace\n"
    "                       on the terminal at exit\n"
    "  MEMPROF_SESSION      set by the agent for the processes of one run (they\n"
    "                       append to its trace); not for users\n"
    "  MEMPROF_SIZE_NOTE    a trace larger than this many bytes gets a note that\n"
    "                       --aggregate keeps long runs small (default 256 MiB;\n"
    "                       lower for tests)\n"
    "  LD_PRELOAD           the agent; memprof puts it first\n"
    "The options above set the variables they name; the agent reads them all.\n"
    "\n"
    "Every option is checked before COMMAND starts.  A run in which nothing was\n"
    "profiled leaves no trace (unless -o or --plot asked for one).  If the\n"
    "current directory is not writable, the trace goes to $TMPDIR (or /tmp).\n"
    "\n"
    "Exit status:\n"
    "  the command's own (128+N if a signal N ended it); 127 if it could not be\n"
    "  started; 2 for a usage error (COMMAND not started).\n"
    "\n"
    "See memprof(1) and memprof-report(1).\n";

#define VERSION "1.0.0"

static void die(const char *what, int err)
{
    if (err)
        fprintf(stderr, "memprof: %s: %s\n", what, strerror(err));
    else
        fprintf(stderr, "memprof: %s\n", what);
    exit(2);
}

/* The directory this executable is in. */
static void self_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0)
        die("cannot find where memprof is installed", errno);
    dir[n] = 0;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
}

/* dir + "/" + name into out; a path too long for PATH_MAX is an error. */
static void join(char *out, size_t size, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
        die("installation path too long", 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* build/ holds all three; an installation has bin/ and lib/memprof/. */
static void find_agent(const char *dir, char *out, size_t size)
{
    join(out, size, dir, "libmemprof.so");
    if (exists(out))
        return;
    join(out, size, dir, "../lib/memprof/libmemprof.so");
    if (exists(out)) {
        char real[PATH_MAX];
        if (realpath(out, real))
            snprintf(out, size, "%s", real);
        return;
    }
    die("cannot find libmemprof.so next to memprof or in ../lib/memprof", 0);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- the options ---- */

/* What checks an option's value; NULL when any value will do. A check
 * prints nothing: it returns the fix, or NULL if the value is good. */
typedef const char *(*check_fn)(const char *value);

static bool is_one_of(const char *v, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(v, *names))
            return true;
    return false;
}

static const char *check_precision(const char *v)
{
    char *end;
    errno = 0;
    long p = strtol(v, &end, 10);
    return errno || *end || end == v || p < 0 || p > 15 ? "give a whole number from 0 to 15" : NULL;
}

static const char *check_count(const char *v)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || *end || end == v || n < 1 ? "give a whole number of 1 or more" : NULL;
}

static const char *check_format(const char *v)
{
    static const char *const names[] = {"text", "json", "csv", "html", NULL};
    return is_one_of(v, names) ? NULL : "give text, json, csv or html";
}

static const char *check_mode(const char *v)
{
    static const char *const names[] = {"compat", "exact", NULL};
    return is_one_of(v, names) ? NULL : "give compat or exact";
}

static const char *check_merge_split(const char *v)
{
    static const char *const names[] = {"merge", "split", NULL};
    return is_one_of(v, names) ? NULL : "give merge or split";
}

/* The agent's own rule (collector/sampler.c), so that a bad interval stops
 * here rather than turning the agent off in the program: nanoseconds, 0
 * for off, -1 if not a duration from 1 ms to 60 s. */
static double interval_ns(const char *v)
{
    if (!strcmp(v, "off") || !strcmp(v, "0"))
        return 0;
    char *end;
    errno = 0;
    double t = strtod(v, &end), unit = 0;
    if (!errno && end != v && t > 0) {
        if (!strcmp(end, "ns"))
            unit = 1;
        else if (!strcmp(end, "us"))
            unit = 1e3;
        else if (!strcmp(end, "ms") || !*end)
            unit = 1e6;
        else if (!strcmp(end, "s"))
            unit = 1e9;
    }
    return unit && t * unit >= 1e6 && t * unit <= 60e9 ? t * unit : -1;
}

static const char *check_interval(const char *v)
{
    return interval_ns(v) >= 0 ? NULL : "give a duration from 1ms to 60s (e.g. 10ms, 0.5s) or off";
}

static const char *check_patterns(const char *v)
{
    return v[strspn(v, ", \t")] ? NULL : "give one or more patterns, separated by commas";
}

/* A file we are to create: its directory must exist and be writable. */
static const char *writable_dir_of(const char *path)
{
    static char why[PATH_MAX + 64];
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!*path)
        return "give a file name";
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, sizeof why, "there is no directory %s: create it, or choose another file", dir);
        return why;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(why, sizeof why, "%s is not writable: choose another file", dir);
        return why;
    }
    return NULL;
}

static const char *check_plot(const char *v)
{
    size_t n = strlen(v);
    if (n < 4 || strcasecmp(v + n - 4, ".svg") != 0)
        return "the plot is SVG only: give a file name ending in .svg";
    return writable_dir_of(v);
}

enum how { ENV, FLAG_ENV, REPORT, OWN };

typedef struct option {
    const char *name, *alias;   /* "--plot", "-o" or NULL */
    const char *arg;            /* the value's name, NULL for a flag */
    check_fn check;
    enum how how;
    const char *target;         /* the variable, or the report's option */
    const char *example;        /* shown when the value is missing */
} option_t;

static const option_t options[] = {
    {"--output", "-o", "TRACE", writable_dir_of, OWN, NULL, "-o run.jsonl"},
    {"--force", "-f", NULL, NULL, OWN, NULL, NULL},
    {"--precision", NULL, "N", check_precision, REPORT, "--precision", "--precision 2"},
    {"--no-report", "-n", NULL, NULL, OWN, NULL, NULL},
    {"--files", NULL, "PATTERNS", check_patterns, ENV, "MEMPROF_FILES", "--files 'app.py,src/*.py'"},
    {"--functions", NULL, "PATTERNS", check_patterns, ENV, "MEMPROF_FUNCTIONS",
     "--functions 'mod:func'"},
    {"--interval", NULL, "TIME", check_interval, ENV, "MEMPROF_INTERVAL", "--interval 10ms"},
    {"--peak", NULL, NULL, NULL, FLAG_ENV, "MEMPROF_PEAK", NULL},
    {"--heap", NULL, NULL, NULL, FLAG_ENV, "MEMPROF_HEAP", NULL},
    {"--aggregate", NULL, NULL, NULL, FLAG_ENV, "MEMPROF_AGGREGATE", NULL},
    {"--plot", NULL, "FILE", check_plot, REPORT, "--plot", "--plot memory.svg"},
    {"--include-children", NULL, NULL, NULL, OWN, NULL, NULL},
    {"--multiprocess", NULL, NULL, NULL, OWN, NULL, NULL},
    {"--format", NULL, "FORMAT", check_format, REPORT, "--format", "--format html"},
    {"--mode", NULL, "MODE", check_mode, REPORT, "--mode", "--mode exact"},
    {"--threads", NULL, "HOW", check_merge_split, REPORT, "--threads", "--threads split"},
    {"--processes", NULL, "HOW", check_merge_split, REPORT, "--processes", "--processes merge"},
    {"--top", NULL, "N", check_count, REPORT, "--top", "--top 10"},
    {"--report-output", NULL, "FILE", writable_dir_of, REPORT, "-o", "--report-output report.txt"},
    {"--compact", NULL, "TRACE", NULL, OWN, NULL, "--compact memprof.4242.jsonl"},
    {"--help", "-h", NULL, NULL, OWN, NULL, NULL},
    {"--version", NULL, NULL, NULL, OWN, NULL, NULL},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("memprof: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Edits (insert, delete, replace, swap two neighbours) from A to B. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

static void unknown_option(const char *a)
{
    const option_t *near = NULL;
    size_t best = (size_t)-1, len = strlen(a);
    for (size_t k = 0; k < NOPTIONS; k++) {
        size_t d = edit_distance(a, options[k].name);
        /* A prefix (--plo, --func) is as good as a small typo. */
        if (len > 3 && !strncmp(a, options[k].name, len))
            d = 1;
        if (d < best) {
            best = d;
            near = &options[k];
        }
    }
    if (near && best <= (len > 8 ? 3 : 2))
        usage_error("unknown option %s: did you mean %s?", a, near->name);
    usage_error("unknown option %s (memprof --help lists the options)", a);
}

static const option_t *find_option(const char *a)
{
    for (size_t k = 0; k < NOPTIONS; k++)
        if (!strcmp(a, options[k].name) || (options[k].alias && !strcmp(a, options[k].alias)))
            return &options[k];
    return NULL;
}

/* ---- after the run: what the trace holds ---- */

#define MAX_PATTERNS 64
#define MAX_EXAMPLES 3

typedef struct pattern_use {
    const char *pattern;
    bool matched;
    size_t outside;                 /* files matched outside the program's directory */
    char *example[MAX_EXAMPLES];    /* the first few of them */
} pattern_use_t;

typedef struct trace_facts {
    bool profiled;                  /* some code record, or a table snapshot */
    pattern_use_t files[MAX_PATTERNS], functions[MAX_PATTERNS];
    size_t nfiles, nfunctions;
} trace_facts_t;

/* PATTERNS split at commas and blanks, as the agent splits them. The
 * pieces point into a copy that lives as long as the run. */
static size_t split_patterns(const char *text, pattern_use_t *out)
{
    size_t n = 0;
    if (!text)
        return 0;
    char *copy = strdup(text);
    if (!copy)
        die("out of memory", 0);
    for (char *p = strtok(copy, ", \t\n"); p && n < MAX_PATTERNS; p = strtok(NULL, ", \t\n"))
        out[n++] = (pattern_use_t){.pattern = p};
    return n;
}

/* The agent's rule (preload/profile_impl.py): a pattern without '/' is
 * matched against the base name, one with '/' against the path. */
static bool file_matches(const char *pattern, const char *path, const char *abspath)
{
    if (strchr(pattern, '/')) {
        char any[PATH_MAX + 2];
        snprintf(any, sizeof any, "*/%s", pattern);
        return !fnmatch(pattern, path, 0) || (abspath && (!fnmatch(pattern, abspath, 0)
                                                          || !fnmatch(any, abspath, 0)));
    }
    const char *base = strrchr(path, '/');
    return !fnmatch(pattern, base ? base + 1 : path, 0);
}

/* Only the qualified name is judged: the module a code came from is not
 * in the trace, so a "module:qualname" pattern is judged by its qualname. */
static bool function_matches(const char *pattern, const char *qualname)
{
    const char *colon = strrchr(pattern, ':');
    return !fnmatch(colon ? colon + 1 : pattern, qualname, 0);
}

static bool under_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || (n && dir[n - 1] == '/'));
}

/* Each file record is a distinct file of a section; a child process
 * defines it again, so examples are kept once. */
static void note_outside(pattern_use_t *u, const char *path)
{
    for (size_t k = 0; k < u->outside && k < MAX_EXAMPLES; k++)
        if (!strcmp(u->example[k], path))
            return;
    if (u->outside < MAX_EXAMPLES)
        u->example[u->outside] = strdup(path);
    u->outside++;
}

/* Reads the trace's definitions (lines that are JSON objects; the events
 * are arrays and skipped unparsed). Without patterns, the first code
 * record settles it. */
static void read_facts(const char *trace, const char *program_dir, trace_facts_t *tf)
{
    FILE *f = fopen(trace, "r");
    if (!f)
        return;
    bool selecting = tf->nfiles || tf->nfunctions;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[0] != '{' || (!strstr(line, "\"k\":\"code\"") && !strstr(line, "\"k\":\"table\"")
                               && !strstr(line, "\"k\":\"file\"")
                               && !strstr(line, "\"k\":\"timestamp\"")))
            continue;
        json_t *r = json_loadb(line, (size_t)len, 0, NULL);
        const char *k = json_string_value(json_object_get(r, "k"));
        /* A named span alone (profile.timestamp) is worth its trace too. */
        if (k && (!strcmp(k, "code") || !strcmp(k, "table") || !strcmp(k, "timestamp")))
            tf->profiled = true;
        if (k && !strcmp(k, "file")) {
            const char *path = json_string_value(json_object_get(r, "path"));
            const char *abs = json_string_value(json_object_get(r, "abspath"));
            for (size_t p = 0; path && p < tf->nfiles; p++)
                if (file_matches(tf->files[p].pattern, path, abs)) {
                    tf->files[p].matched = true;
                    if (abs && program_dir && !under_dir(abs, program_dir))
                        note_outside(&tf->files[p], abs);
                }
        }
        if (k && !strcmp(k, "code")) {
            const char *q = json_string_value(json_object_get(r, "qualname"));
            for (size_t p = 0; q && p < tf->nfunctions; p++)
                if (function_matches(tf->functions[p].pattern, q))
                    tf->functions[p].matched = true;
        }
        json_decref(r);
        if (tf->profiled && !selecting)
            break;
    }
    free(line);
    fclose(f);
}

static void report_patterns(const trace_facts_t *tf, const char *program_dir)
{
    for (size_t p = 0; p < tf->nfiles; p++)
        if (!tf->files[p].matched)
            fprintf(stderr, "memprof: --files pattern '%s' matched no file that ran\n",
                    tf->files[p].pattern);
    for (size_t p = 0; p < tf->nfunctions; p++)
        if (!tf->functions[p].matched)
            fprintf(stderr, "memprof: --functions pattern '%s' matched no function that ran\n",
                    tf->functions[p].pattern);
    for (size_t p = 0; p < tf->nfiles; p++) {
        const pattern_use_t *u = &tf->files[p];
        if (!u->outside)
            continue;
        fprintf(stderr, "memprof: --files pattern '%s' also matched %zu file%s outside %s "
                "(installed packages?):", u->pattern, u->outside, u->outside == 1 ? "" : "s",
                program_dir);
        for (size_t k = 0; k < u->outside && k < MAX_EXAMPLES; k++)
            fprintf(stderr, "%s %s", k ? "," : "", u->example[k] ? u->example[k] : "?");
        if (u->outside > MAX_EXAMPLES)
            fprintf(stderr, " and %zu more", u->outside - MAX_EXAMPLES);
        fputs("\n", stderr);
    }
}

/* ---- the command ---- */

/* Whether NAME can be run: a path that exists, or a name found in $PATH. */
static bool runnable(const char *name)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    for (const char *p = path ? path : "/usr/bin:/bin"; p; ) {
        const char *colon = strchr(p, ':');
        int n = colon ? (int)(colon - p) : (int)strlen(p);
        snprintf(buf, sizeof buf, "%.*s%s%s", n, p, n ? "/" : "", name);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return true;
        p = colon ? colon + 1 : NULL;
    }
    return false;
}

/* The script a command runs: `x.py ...`, or `python3 [opts] x.py ...`. */
static const char *script_of(char **cmd)
{
    if (ends_with(cmd[0], ".py"))
        return cmd[0];
    const char *base = strrchr(cmd[0], '/');
    base = base ? base + 1 : cmd[0];
    if (strncmp(base, "python", 6) != 0)
        return NULL;
    for (int k = 1; cmd[k]; k++) {
        if (!strcmp(cmd[k], "-m") || !strcmp(cmd[k], "-c"))
            return NULL;
        if (cmd[k][0] != '-')
            return cmd[k];
    }
    return NULL;
}

/* Checks the command before anything is started: exit 2 if its script is
 * missing, 127 if the program cannot be found. */
static void check_command(char **cmd)
{
    const char *script = script_of(cmd);
    struct stat st;
    if (script && stat(script, &st) != 0)
        usage_error("%s: no such script (nothing was run)", script);
    if (cmd[0] != script && !runnable(cmd[0])) {
        fprintf(stderr, "memprof: cannot run %s: command not found (nothing was run)\n", cmd[0]);
        exit(127);
    }
}

/* Whether the file can be created where it is named: tried, not judged by
 * access(), which says yes to root on a read-only mount. */
static bool can_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno == EEXIST;
    close(fd);
    unlink(path);
    return true;
}

/* Gives the trace back the padding its processes left (compact.h). A
 * process that outlived the run keeps it, which is said only when asked. */
static bool compact_or_say(const char *trace, bool asked)
{
    bool dropped;
    int err = trace_compact(trace, &dropped);
    if (err == EBUSY && asked)
        fprintf(stderr, "memprof: %s: a process still writes it; try again when it has exited\n", trace);
    else if (err && err != EBUSY)
        fprintf(stderr, "memprof: cannot compact %s: %s\n", trace, strerror(err));
    return err == 0;
}

/* Past MEMPROF_SIZE_NOTE bytes (default 256 MiB) of events, one line says
 * how to keep long runs small. */
static void note_size(const char *trace, bool aggregate)
{
    const char *v = getenv("MEMPROF_SIZE_NOTE");
    char *end;
    unsigned long long limit = 256ull << 20;
    struct stat st;
    if (v && *v) {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (!errno && !*end)
            limit = n;
    }
    if (aggregate || stat(trace, &st) != 0 || (unsigned long long)st.st_size <= limit)
        return;
    fprintf(stderr, "memprof: the trace is %.0f MiB: --aggregate (MEMPROF_AGGREGATE=1) keeps long runs "
            "small, tables instead of every event\n", (double)st.st_size / (1 << 20));
}

/* Options handed on to memprof-report. */
#define MAX_REPORT_ARGS 40
static char *report_args[MAX_REPORT_ARGS];
static int nreport;

static void add_report_arg(const char *a)
{
    if (nreport == MAX_REPORT_ARGS)
        usage_error("too many report options");
    report_args[nreport++] = (char *)a;
}

/* The tree sampler's period: MEMPROF_INTERVAL's (--interval), 10 ms when
 * not set; off is a usage error, as the samples are what was asked for. */
static uint64_t tree_interval_of(const char *v)
{
    if (!v || !*v)
        return 10000000u;
    double ns = interval_ns(v);
    if (ns == 0)
        usage_error("--include-children and --multiprocess sample every --interval: "
                    "give a duration (e.g. --interval 10ms), not off");
    return ns > 0 ? (uint64_t)ns : 10000000u;
}

int main(int argc, char **argv)
{
    const char *output = NULL, *plot = NULL, *files = NULL, *functions = NULL;
    bool force = false, report = true, aggregate = false, exact = false, top = false;
    bool children = false, per_process = false;     /* --include-children, --multiprocess */
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        char *a = argv[i], *value = NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        char name[64];
        char *eq = !strncmp(a, "--", 2) ? strchr(a, '=') : NULL;
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        const option_t *o = find_option(name);
        if (!o)
            unknown_option(name);
        if (!o->arg && value)
            usage_error("%s takes no value", o->name);
        if (o->arg && !value) {
            if (i + 1 >= argc)
                usage_error("%s needs %s (e.g. %s)", o->name, o->arg, o->example);
            value = argv[++i];
        }
        const char *fix = o->check ? o->check(value) : NULL;
        if (fix)
            usage_error("%s '%s': %s", o->name, value, fix);
        switch (o->how) {
        case ENV:
            setenv(o->target, value, 1);
            break;
        case FLAG_ENV:
            setenv(o->target, "1", 1);
            break;
        case REPORT:
            add_report_arg(o->target);
            add_report_arg(value);
            break;
        case OWN:
            break;
        }
        if (!strcmp(o->name, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(o->name, "--version")) {
            puts("memprof " VERSION);
            return 0;
        } else if (!strcmp(o->name, "--compact")) {
            return compact_or_say(value, true) ? 0 : 1;
        } else if (!strcmp(o->name, "--output")) {
            output = value;
        } else if (!strcmp(o->name, "--force")) {
            force = true;
        } else if (!strcmp(o->name, "--no-report")) {
            report = false;
        } else if (!strcmp(o->name, "--aggregate")) {
            aggregate = true;
        } else if (!strcmp(o->name, "--plot")) {
            plot = value;
        } else if (!strcmp(o->name, "--files")) {
            files = value;
        } else if (!strcmp(o->name, "--functions")) {
            functions = value;
        } else if (!strcmp(o->name, "--mode")) {
            exact = !strcmp(value, "exact");
        } else if (!strcmp(o->name, "--top")) {
            top = true;
        } else if (!strcmp(o->name, "--include-children")) {
            children = true;
        } else if (!strcmp(o->name, "--multiprocess")) {
            children = per_process = true;
        }
    }
    if (aggregate && (exact || top))
        usage_error("%s needs per-line events, which --aggregate does not write: "
                    "drop one of them", exact ? "--mode exact" : "--top");
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    char **cmd = argv + i;
    check_command(cmd);
    uint64_t tree_interval = children ? tree_interval_of(getenv("MEMPROF_INTERVAL")) : 0;

    char dir[PATH_MAX], agent[PATH_MAX], trace[PATH_MAX], reporter[PATH_MAX];
    self_dir(dir, sizeof dir);
    find_agent(dir, agent, sizeof agent);
    join(reporter, sizeof reporter, dir, "memprof-report");

    if (output) {
        snprintf(trace, sizeof trace, "%s", output);
    } else if (snprintf(trace, sizeof trace, "memprof.%d.jsonl", (int)getpid()),
               can_create(trace)) {
        /* the default, in the current directory */
    } else {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp || access(tmp, W_OK) != 0)
            tmp = "/tmp";
        snprintf(trace, sizeof trace, "%s/memprof.%d.jsonl", tmp, (int)getpid());
        fprintf(stderr, "memprof: the current directory is not writable: the trace goes to %s\n",
                trace);
    }
    if (exists(trace)) {
        if (!force) {
            fprintf(stderr, "memprof: %s exists; remove it, choose another with -o, or use --force\n", trace);
            return 2;
        }
        if (unlink(trace) != 0)
            die(trace, errno);
    }

    /* The agent goes first in LD_PRELOAD; the user's entries follow. */
    const char *old = getenv("LD_PRELOAD");
    char preload[2 * PATH_MAX];
    snprintf(preload, sizeof preload, "%s%s%s", agent, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    setenv("MEMPROF_OUTPUT", trace, 1);
    /* memory_profiler's imported @profile prints no table per call then:
     * the report prints them at the end (preload/compat.py). */
    setenv("MEMPROF_LAUNCHER", "1", 1);
    /* The launcher names the trace itself, after the report. */
    setenv("MEMPROF_QUIET", "1", 1);
    unsetenv("MEMPROF_SESSION");
    unsetenv("MEMPROF_FD");

    char *with_python[argc - i + 2];
    if (ends_with(cmd[0], ".py") && access(cmd[0], X_OK) != 0) {
        /* `python -m memprof` names its own interpreter. */
        const char *python = getenv("MEMPROF_PYTHON");
        with_python[0] = python && *python ? strdup(python) : "python3";
        memcpy(with_python + 1, cmd, sizeof(char *) * (size_t)(argc - i + 1));
        cmd = with_python;
    }
    unsetenv("MEMPROF_PYTHON");

    /* Like time(1): the terminal's ^C goes to the command; we wait for it
     * and still print what it recorded. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0)
        die("cannot fork", errno);
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "memprof: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    int status;
    tree_sampler_t tree;
    bool sampling = children && tree_init(&tree, tree_interval, per_process);
    if (children && !sampling)
        fprintf(stderr, "memprof: cannot sample the process tree: %s\n", strerror(errno));
    if (sampling) {
        status = tree_wait(&tree, pid);
    } else {
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                die("waitpid", errno);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (sampling) {
        /* Into the trace, which a run without Python did not create: then
         * only if a trace or a plot was asked for. */
        tree_append(&tree, trace, output || plot);
        tree_destroy(&tree);
    }
    if (code == 127 && !exists(trace))
        return code;

    if (exists(trace))
        compact_or_say(trace, false);
    if (!exists(trace)) {
        fprintf(stderr, "memprof: no trace was written: no @profile function ran (or the agent was off, see any warning above)\n");
        return code;
    }

    trace_facts_t tf = {0};
    char program_dir[PATH_MAX] = "";
    const char *script = script_of(cmd);
    if (script && realpath(script, program_dir)) {
        char *slash = strrchr(program_dir, '/');
        if (slash)
            *(slash == program_dir ? slash + 1 : slash) = 0;
    } else if (!getcwd(program_dir, sizeof program_dir)) {
        program_dir[0] = 0;
    }
    tf.nfiles = split_patterns(files, tf.files);
    tf.nfunctions = split_patterns(functions, tf.functions);
    read_facts(trace, program_dir[0] ? program_dir : NULL, &tf);
    report_patterns(&tf, program_dir);
    if (!tf.profiled) {
        fprintf(stderr, "memprof: no @profile function ran: add @profile, or select code with "
                "--files/--functions\n");
        /* The timeline alone is still worth keeping when it was asked for. */
        if (!output && !plot) {
            unlink(trace);
            return code;
        }
        report = false;
    }

    fflush(stdout);
    /* -n prints no tables, but a plot asked for is still drawn. */
    bool draw_only = !report && plot;
    if (report || draw_only) {
        pid_t r = fork();
        if (r == 0) {
            char *rargv[MAX_REPORT_ARGS + 6];
            int n = 0;
            rargv[n++] = reporter;
            for (int k = 0; k < nreport; k++)
                rargv[n++] = report_args[k];
            if (draw_only) {
                rargv[n++] = "-o";
                rargv[n++] = "/dev/null";
            }
            rargv[n++] = trace;
            rargv[n] = NULL;
            unsetenv("LD_PRELOAD");
            execv(reporter, rargv);
            fprintf(stderr, "memprof: cannot run %s: %s\n", reporter, strerror(errno));
            _exit(127);
        }
        int rs;
        while (r > 0 && waitpid(r, &rs, 0) < 0 && errno == EINTR)
            ;
    }
    fprintf(stderr, "memprof: trace written to %s (memprof-report %s prints it again)\n", trace, trace);
    note_size(trace, aggregate);
    return code;
}
