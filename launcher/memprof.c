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
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "usage: memprof [options] COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND with memprof's agent preloaded (a Python script may be given\n"
    "directly: `memprof script.py` runs `python3 script.py`), then prints the\n"
    "line-by-line memory tables of its @profile functions (and of the code\n"
    "--files and --functions select), as `python -m memory_profiler` does.\n"
    "\n"
    "options:\n"
    "  -o, --output TRACE   where to write the trace (default memprof.PID.jsonl)\n"
    "  -f, --force          overwrite TRACE if it exists\n"
    "  --precision N        digits after the decimal point in the tables (default 3)\n"
    "  -n, --no-report      write the trace but print no tables\n"
    "  --files PATTERNS     profile every function and the module code of the\n"
    "                       matching source files, no decorator needed\n"
    "                       (MEMPROF_FILES; e.g. --files 'app.py,src/*.py')\n"
    "  --functions PATTERNS profile the matching functions, no decorator needed\n"
    "                       (MEMPROF_FUNCTIONS; e.g. 'mod:func,mod:Class.*')\n"
    "  --interval TIME      sample memory over time every TIME (MEMPROF_INTERVAL;\n"
    "                       e.g. 10ms, 0.5s, off)\n"
    "  --peak               also record the peak RSS inside each line (MEMPROF_PEAK)\n"
    "  --heap               also record heap allocations per line and the peak\n"
    "                       (MEMPROF_HEAP)\n"
    "  --aggregate          keep the tables in the process, write no events\n"
    "                       (MEMPROF_AGGREGATE: for long runs; without events\n"
    "                       there is no --mode exact and no --top)\n"
    "  --plot FILE.svg      also draw memory over time into FILE.svg\n"
    "  --format FORMAT      the report's format: text, json, csv or html\n"
    "  --mode MODE          compat (memory_profiler's numbers) or exact\n"
    "  --threads HOW        merge (one table per function) or split (per thread)\n"
    "  --top N              print the N lines that cost the most (by exact-mode\n"
    "                       increment) instead of the tables\n"
    "  --report-output FILE write the report to FILE instead of standard output\n"
    "  -h, --help           this text\n"
    "  --version            memprof's version\n"
    "\n"
    "Exit status: the command's own (128+N if a signal N ended it); 127 if it\n"
    "could not be started; 2 for a usage error.\n";

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

/* Options handed on to memprof-report as they are. */
#define MAX_REPORT_ARGS 24
static char *report_args[MAX_REPORT_ARGS];
static int nreport;

int main(int argc, char **argv)
{
    const char *output = NULL, *precision = NULL;
    bool force = false, report = true;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            puts("memprof " VERSION);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            output = argv[++i];
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            precision = argv[++i];
            char *end;
            long p = strtol(precision, &end, 10);
            if (*end || end == precision || p < 0 || p > 15)
                die("--precision takes a whole number from 0 to 15", 0);
        } else if (!strcmp(a, "--files") && i + 1 < argc) {
            setenv("MEMPROF_FILES", argv[++i], 1);
        } else if (!strcmp(a, "--functions") && i + 1 < argc) {
            setenv("MEMPROF_FUNCTIONS", argv[++i], 1);
        } else if (!strcmp(a, "--interval") && i + 1 < argc) {
            setenv("MEMPROF_INTERVAL", argv[++i], 1);
        } else if (!strcmp(a, "--peak")) {
            setenv("MEMPROF_PEAK", "1", 1);
        } else if (!strcmp(a, "--heap")) {
            setenv("MEMPROF_HEAP", "1", 1);
        } else if (!strcmp(a, "--aggregate")) {
            setenv("MEMPROF_AGGREGATE", "1", 1);
        } else if ((!strcmp(a, "--plot") || !strcmp(a, "--format") || !strcmp(a, "--mode")
                    || !strcmp(a, "--threads") || !strcmp(a, "--top")) && i + 1 < argc) {
            if (nreport + 2 > MAX_REPORT_ARGS)
                die("too many report options", 0);
            report_args[nreport++] = (char *)a;
            report_args[nreport++] = argv[++i];
        } else if (!strcmp(a, "--report-output") && i + 1 < argc) {
            if (nreport + 2 > MAX_REPORT_ARGS)
                die("too many report options", 0);
            report_args[nreport++] = "-o";
            report_args[nreport++] = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = true;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--no-report")) {
            report = false;
        } else {
            fprintf(stderr, "memprof: unknown option %s\n\n%s", a, usage);
            return 2;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }

    char dir[PATH_MAX], agent[PATH_MAX], trace[PATH_MAX], reporter[PATH_MAX];
    self_dir(dir, sizeof dir);
    find_agent(dir, agent, sizeof agent);
    join(reporter, sizeof reporter, dir, "memprof-report");

    if (output)
        snprintf(trace, sizeof trace, "%s", output);
    else
        snprintf(trace, sizeof trace, "memprof.%d.jsonl", (int)getpid());
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
    unsetenv("MEMPROF_SESSION");
    unsetenv("MEMPROF_FD");

    char **cmd = argv + i;
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
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid", errno);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 127 && !exists(trace))
        return code;

    if (!exists(trace)) {
        fprintf(stderr, "memprof: no trace was written: no @profile function ran (or the agent was off, see any warning above)\n");
        return code;
    }
    fflush(stdout);
    if (report) {
        pid_t r = fork();
        if (r == 0) {
            char *rargv[MAX_REPORT_ARGS + 6];
            int n = 0;
            rargv[n++] = reporter;
            if (precision) {
                rargv[n++] = "--precision";
                rargv[n++] = (char *)precision;
            }
            for (int k = 0; k < nreport; k++)
                rargv[n++] = report_args[k];
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
    return code;
}
