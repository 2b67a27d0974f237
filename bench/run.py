#!/usr/bin/python3
"""memprof's speed benchmark (`make bench`): plain Python, memprof and
memory_profiler on the workloads of bench/workloads/, run interleaved, and
memprof-report on a synthetic trace of 10 million line events. Prints the
tables and writes them to BENCHMARKS.rst. See bench/README.

    /usr/bin/python3 bench/run.py            # the full run (what make bench does)
    /usr/bin/python3 bench/run.py --quick    # 1-2 runs each, no memory_profiler;
                                             # writes build/bench/BENCHMARKS.quick.rst
    /usr/bin/python3 bench/run.py --only tight200k,calls --quick
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
WORK = os.path.join(BUILD, "bench")           # traces, the synthetic trace, raw results
# The binaries as built, copied into build/bench/bin/ when the run starts,
# so that a `make` elsewhere in the tree during the run changes nothing.
BUILT_AGENT = os.path.join(BUILD, "libmemprof.so")
BUILT_REPORT = os.path.join(BUILD, "memprof-report")
AGENT = os.path.join(WORK, "bin", "libmemprof.so")
REPORT = os.path.join(WORK, "bin", "memprof-report")
FLOOR = os.path.join(BUILD, "bench", "floor")
WORKLOADS_DIR = os.path.join(ROOT, "bench", "workloads")
OUT_RST = os.path.join(ROOT, "BENCHMARKS.rst")
MPROF_PYTHON = "/usr/bin/python3"             # Debian's, with python3-memory-profiler

# ---------------------------------------------------------------------------
# The memprof variants: each is one memprof run per repetition of every
# workload, with these environment settings added. Adding a mode is one line.
VARIANTS = [
    ("memprof", {}),
    # The RSS from statm, beside the default (the kmem:rss_stat tracepoint
    # where the kernel permits it): the fast path against the pread floor.
    ("memprof statm", {"MEMPROF_RSS": "statm"}),
    # ("memprof aggregate", {"MEMPROF_AGGREGATE": "1"}),
    # ("memprof sampler", {"MEMPROF_INTERVAL": "0.1"}),
]
# Variants that run only on the workloads naming them (their "variants").
EXTRA_VARIANTS = [
    ("memprof peak", {"MEMPROF_PEAK": "1"}),
    ("memprof peak statm", {"MEMPROF_PEAK": "1", "MEMPROF_RSS": "statm"}),
]
ALL_VARIANTS = dict(VARIANTS + EXTRA_VARIANTS)
LPROF_MODULE = "kernprof"                     # Debian's python3-line-profiler

# ---------------------------------------------------------------------------
# The workloads. reps: runs of plain and of each memprof variant;
# mprof: runs of memory_profiler (Debian's python3.11 only, 0 = none);
# floor: also run build/bench/floor once per repetition; lprof: runs of
# line_profiler (kernprof -l, Debian's python3.11 only); variants: the
# memprof variants run (default: VARIANTS); launch: started through a shell
# ("shell": sh forks and execs the program) or exec'd from a 200 MiB Python
# ("python": workloads/big_parent.py), plain runs alike.
WORKLOADS = [
    dict(key="tight200k", title="tight loop, N=200,000", script="tight.py", args=["200000"],
         reps=5, mprof=2, lprof=5, floor=True),
    dict(key="tight2M", title="tight loop, N=2,000,000", script="tight.py", args=["2000000"],
         reps=3, mprof=0, lprof=3, extrapolate_mprof_from="tight200k"),
    dict(key="alloc", title="allocation-heavy, 2,000 rounds", script="alloc.py", args=["2000"],
         reps=5, mprof=5),
    dict(key="calls", title="many calls, 200,000", script="calls.py", args=["200000"],
         reps=5, mprof=1, lprof=3),
    dict(key="peak_shell", title="MEMPROF_PEAK, tight loop N=200,000, from a shell", script="tight.py",
         args=["200000"], reps=5, mprof=0, launch="shell",
         variants=["memprof", "memprof peak", "memprof statm", "memprof peak statm"]),
    dict(key="peak_python", title="MEMPROF_PEAK, tight loop N=200,000, exec'd from a 200 MiB Python",
         script="tight.py", args=["200000"], reps=5, mprof=0, launch="python",
         variants=["memprof", "memprof peak", "memprof statm", "memprof peak statm"]),
    dict(key="faults", title="page faults, 8 x 64 MiB page by page", script="faults.py", args=["8"],
         reps=5, mprof=0, per_event=False),
    dict(key="undecorated", title="mostly undecorated", script="undecorated.py", args=["250"],
         reps=7, mprof=5, per_event=False),
    dict(key="steady", title="nothing selected, steady state", script="nothing.py", args=["250"],
         reps=7, mprof=0),
    dict(key="startup", title="nothing selected, startup (python -c pass)", script=None,
         args=["-c", "pass"], reps=40, mprof=0),
]

REPORT_EVENTS = 10_000_000

# The first @profile of a process, in instructions (callgrind): the script
# with one tiny @profile call against the same script with the decorator
# line blanked, both under the agent.
FIRST_PROFILE_SCRIPT = "first_profile.py"
T_FIRST_PROFILE = 5_000_000

# The cost of each option, on the N=200,000 tight loop under Debian's
# python3.11 only (to stay within the time budget), interleaved with plain.
OPTIONS = [
    ("default (mapped trace file, sampler every 10 ms)", {}),
    ("MEMPROF_INTERVAL=off (no sampler)", {"MEMPROF_INTERVAL": "off"}),
    ("MEMPROF_FD: buffered writes instead of the mapping", {"MEMPROF_FD": "3"}),
    ("MEMPROF_PEAK=1", {"MEMPROF_PEAK": "1"}),
    ("MEMPROF_HEAP=1 (implies the peak)", {"MEMPROF_HEAP": "1"}),
    ("MEMPROF_AGGREGATE=1", {"MEMPROF_AGGREGATE": "1"}),
]
OPTION_REPS = 3
REPORT_REPS = 5

# Undecorated code in instructions (callgrind): undecorated.py and
# nothing.py at two sizes, the difference between them (start-up and the
# decorated call cancel out), without and with the agent.
UNDECORATED_UNITS = (4, 24)

# The targets of the issues (13: the fast path, the peak, page faults).
T_EVENT_US = 0.15
T_VS_MPROF = 150.0
T_VS_LPROF = 1.0            # memprof's time / line_profiler's
T_UNDECORATED = {"3.11": 1.03, "3.12+": 1.01}
T_CALLS = 3.0
T_PEAK = 1.5                # per-event cost with MEMPROF_PEAK=1 / without
T_FAULTS = 1.30             # a page fault with the fast path on / plain
T_STARTUP_MS = 2.0
T_STEADY = 1.01
T_BYTES = 48.0
T_REPORT_EPS = 2_000_000
T_REPORT_MIB = 64.0


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Interpreters

def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    try:
        return subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.path.expanduser("~/.pyenv")


def version_key(path):
    m = re.search(r"/versions/(\d+)\.(\d+)\.(\d+)/", path)
    return tuple(int(x) for x in m.groups()) if m else (0,)


def find_pythons(want_312):
    """[(label, path, minor)], Debian's python3.11 first. The pyenv
    binaries are run directly, not through the bash shim."""
    found, notes = [], []
    candidates = [("Debian", "/usr/bin/python3.11", None)]
    root = pyenv_root()
    for minor in ("3.11", "3.12", "3.13"):
        if minor == "3.12" and not want_312:
            continue
        paths = sorted(glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python" + minor)),
                       key=version_key)
        candidates.append(("pyenv", paths[-1] if paths else None, minor))
    for origin, path, minor in candidates:
        if not path or not os.access(path, os.X_OK):
            notes.append("%s %s: not present, skipped" % (origin, minor or "python3.11"))
            continue
        v = subprocess.run([path, "-c", "import platform; print(platform.python_version())"],
                           capture_output=True, text=True).stdout.strip()
        found.append(("%s (%s)" % (v, origin), path, int(v.split(".")[1])))
    return found, notes


# ---------------------------------------------------------------------------
# Running one process

def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMPROF_") and k != "LD_PRELOAD"}
    env.update(extra or {})
    return env


_trace_seq = 0


def run_process(argv, env, trace=None, peak=False):
    """Runs argv to completion; returns wall and CPU seconds, the number of
    events and bytes of its trace if any, and with peak=True its peak RSS
    (KiB) as GNU time reports it: wait4()'s ru_maxrss for a child of this
    (large) process would start from this process's size, since vfork."""
    stderr_path = os.path.join(WORK, "stderr.txt")
    peak_path = os.path.join(WORK, "peak.txt")
    if peak:
        argv = ["/usr/bin/time", "-f", "%M", "-o", peak_path] + argv
    # Workloads 4 and 5 write there how long their undecorated work took,
    # timed inside the process: start-up and the decoration excluded.
    inner_path = os.path.join(WORK, "inner.txt")
    if os.path.exists(inner_path):
        os.unlink(inner_path)
    env = dict(env, BENCH_INNER_TIME=inner_path)
    if trace and os.path.exists(trace):
        os.unlink(trace)
    with open(stderr_path, "w+b") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=WORKLOADS_DIR, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        errtext = err.read().decode("utf-8", "replace")
    if p.returncode != 0 or "memprof: warning" in errtext:
        raise SystemExit("bench: %s failed (exit %d):\n%s" % (" ".join(argv), p.returncode, errtext[-2000:]))
    r = dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime)
    if os.path.exists(inner_path):
        with open(inner_path) as f:
            r["inner"] = float(f.read())
    if peak:
        with open(peak_path) as f:
            r["maxrss_kib"] = int(f.read().split()[-1])
    if trace:
        r["events"], r["bytes"] = count_trace(trace)
        r["rss"] = rss_source(trace)
        os.unlink(trace) if os.path.exists(trace) else None
    return r


def rss_source(path):
    """The RSS source the trace's first header names (statm before it had one)."""
    try:
        with open(path, "rb") as f:
            head = f.readline(1 << 16)
        return json.loads(head).get("rss", "statm")
    except (OSError, ValueError):
        return "?"


def count_trace(path):
    """(events, bytes): events are the lines that start with '[', less the
    memory samples ('[3,', from the agent's sampler thread), which are not
    line events."""
    if not os.path.exists(path):
        return 0, 0
    lines = samples = 0
    prev = b"\n"                 # as if a line ended just before the file
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 24)
            if not block:
                break
            # Each pattern is counted in the block plus the last len-1
            # bytes before it, so a match across the boundary counts once.
            lines += (prev[-1:] + block).count(b"\n[")
            samples += (prev[-3:] + block).count(b"\n[3,")
            prev = (prev + block)[-3:]
    return lines - samples, os.path.getsize(path)


def variants_of(workload):
    return workload.get("variants") or [name for name, _ in VARIANTS]


LAUNCH = {
    # The shell forks, then execs the program (a command that is not the
    # last one is not exec'd in the shell's place).
    "shell": lambda argv: ["sh", "-c", '"$@"; exit $?', "sh"] + argv,
    "python": lambda argv: [MPROF_PYTHON, os.path.join(WORKLOADS_DIR, "big_parent.py")] + argv,
}


def command(workload, python, variant):
    """(argv, env, trace path or None) for one run."""
    global _trace_seq
    if workload["script"]:
        target = [os.path.join(WORKLOADS_DIR, workload["script"])] + workload["args"]
    else:
        target = workload["args"]
    launch = LAUNCH.get(workload.get("launch"), lambda argv: argv)
    if variant == "plain":
        return launch([python] + target), clean_env(), None
    if variant == "memory_profiler":
        return launch([MPROF_PYTHON, "-m", "memory_profiler"] + target), clean_env(), None
    if variant == "line_profiler":
        out = os.path.join(WORK, "line_profiler.lprof")
        return launch([MPROF_PYTHON, "-m", LPROF_MODULE, "-l", "-o", out] + target), clean_env(), None
    extra = ALL_VARIANTS[variant]
    _trace_seq += 1
    trace = os.path.join(WORK, "trace.%d.%d.jsonl" % (os.getpid(), _trace_seq))
    env = clean_env({"LD_PRELOAD": AGENT, "MEMPROF_OUTPUT": trace, **extra})
    return launch([python] + target), env, trace


def run_floor():
    out = subprocess.run([FLOOR, "200000"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


# ---------------------------------------------------------------------------
# One workload on one interpreter, variants interleaved run by run

def bench_workload(w, label, python, is_debian, quick, have_lprof):
    reps = w["reps"] if not quick else min(w["reps"], 10 if w["key"] == "startup" else 2)
    mreps = (w["mprof"] if not quick else 0) if is_debian else 0
    lreps = (min(w.get("lprof", 0), reps) if have_lprof else 0) if is_debian else 0
    variants = ["plain"] + variants_of(w)
    counts = {v: reps for v in variants}
    if mreps:
        variants.append("memory_profiler")
        counts["memory_profiler"] = mreps
    if lreps:
        variants.append("line_profiler")
        counts["line_profiler"] = lreps
    results = {v: [] for v in variants}
    floors = []
    # One unrecorded warm-up (page cache, .pyc files).
    run_process(*command(w, python, "plain")[:2])
    for rep in range(max(counts.values())):
        # Rotate the order so that no variant always runs first or last.
        order = variants[rep % len(variants):] + variants[:rep % len(variants)]
        for v in order:
            if rep < counts[v]:
                argv, env, trace = command(w, python, v)
                results[v].append(run_process(argv, env, trace))
        if w.get("floor") and rep < reps:
            floors.append(run_floor())
        log("  %-14s %-22s rep %d/%d: %s" % (w["key"], label, rep + 1, max(counts.values()),
            "  ".join("%s %.3fs" % (v, results[v][rep]["wall"]) for v in variants if rep < len(results[v]))))
    return dict(results=results, floors=floors)


def callgrind_instructions(argv, env):
    """The instructions callgrind counts for argv (its "Collected" total),
    or None if it fails. Deterministic up to a few thousand: hashing is
    seeded and the sampler thread is off (it would count its own work)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
                         cwd=WORK, env=dict(env, PYTHONHASHSEED="0"), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not m or "memprof: warning" in out.stderr:
        log("bench: callgrind of %s failed:\n%s" % (" ".join(argv), out.stderr[-1500:]))
        return None
    return int(m.group(1))


def bench_first_profile(pythons):
    """{label: dict(plain, agent, decorated, first)}: instructions of the
    script without the agent, under the agent without the decorator, and
    with it; first = decorated - agent."""
    if not shutil.which("valgrind"):
        return None
    with open(os.path.join(WORKLOADS_DIR, FIRST_PROFILE_SCRIPT)) as f:
        decorated = f.read()
    scripts = {"decorated": os.path.join(WORK, "first_profile.py"),
               "bare": os.path.join(WORK, "first_profile_bare.py")}
    with open(scripts["decorated"], "w") as f:
        f.write(decorated)
    with open(scripts["bare"], "w") as f:
        f.write(decorated.replace("@profile\n", "\n"))
    trace = os.path.join(WORK, "first_profile.jsonl")
    agent = clean_env({"LD_PRELOAD": AGENT, "MEMPROF_OUTPUT": trace, "MEMPROF_INTERVAL": "off"})
    results = {}
    for label, path, minor in pythons:
        log("bench: the first @profile on %s (callgrind)" % label)
        subprocess.run([path, scripts["bare"]], cwd=WORK, env=clean_env(), check=True)
        r = {}
        for key, script, env in (("plain", "bare", clean_env()), ("agent", "bare", agent),
                                 ("decorated", "decorated", agent)):
            if os.path.exists(trace):
                os.unlink(trace)
            r[key] = callgrind_instructions([path, scripts[script]], env)
        if os.path.exists(trace):
            os.unlink(trace)
        if None not in r.values():
            r["first"] = r["decorated"] - r["agent"]
            results[label] = r
    return results


def bench_undecorated(pythons):
    """{label: dict(minor, undecorated=dict(plain, agent), steady=...)}: the
    instructions that UNDECORATED_UNITS[1] - UNDECORATED_UNITS[0] units of
    undecorated work cost, without the agent and under it: undecorated.py
    (after one decorated call) and nothing.py (nothing decorated)."""
    if not shutil.which("valgrind"):
        return None
    trace = os.path.join(WORK, "undecorated.jsonl")
    agent = clean_env({"LD_PRELOAD": AGENT, "MEMPROF_OUTPUT": trace, "MEMPROF_INTERVAL": "off"})
    results = {}
    for label, path, minor in pythons:
        log("bench: undecorated work on %s (callgrind)" % label)
        r = dict(minor=minor)
        for key, script in (("undecorated", "undecorated.py"), ("steady", "nothing.py")):
            x = {}
            for run, env in (("plain", clean_env()), ("agent", agent)):
                counts = []
                for units in UNDECORATED_UNITS:
                    if os.path.exists(trace):
                        os.unlink(trace)
                    counts.append(callgrind_instructions(
                        [path, os.path.join(WORKLOADS_DIR, script), str(units)], env))
                if None in counts:
                    break
                x[run] = counts[1] - counts[0]
            if len(x) == 2:
                r[key] = x
        if os.path.exists(trace):
            os.unlink(trace)
        results[label] = r
    return results


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_sampler(quick):
    """The sampler thread's own CPU time, read from /proc/PID/task/TID/schedstat
    (nanoseconds on a CPU) while a traced program sleeps: what sampling
    every 10 ms costs, free of the machine's noise."""
    seconds = 1.5 if quick else 4.0
    trace = os.path.join(WORK, "sampler.%d.jsonl" % os.getpid())
    if os.path.exists(trace):
        os.unlink(trace)
    env = clean_env({"LD_PRELOAD": AGENT, "MEMPROF_OUTPUT": trace})
    p = subprocess.Popen(["/usr/bin/python3.11", "-c", "import time; time.sleep(%f)" % (seconds + 1)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    time.sleep(seconds)
    cpu = None
    try:
        for tid in os.listdir("/proc/%d/task" % p.pid):
            if int(tid) != p.pid:
                with open("/proc/%d/task/%s/schedstat" % (p.pid, tid)) as f:
                    cpu = int(f.read().split()[0])
    except OSError:
        pass
    elapsed = time.perf_counter() - t0
    p.wait()
    samples = count_samples(trace)
    if os.path.exists(trace):
        os.unlink(trace)
    return dict(seconds=elapsed, cpu_ns=cpu, samples=samples)


def count_samples(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return f.read().count(b"\n[3,")


def bench_options(quick):
    """Per-event cost and trace size of each option (OPTIONS), side by side."""
    python = "/usr/bin/python3.11"
    script = [os.path.join(WORKLOADS_DIR, "tight.py"), "200000"]
    reps = 1 if quick else OPTION_REPS
    names = ["plain"] + [n for n, _ in OPTIONS]
    res = {n: [] for n in names}
    events = {}
    for rep in range(reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for n in order:
            if n == "plain":
                res[n].append(run_process([python] + script, clean_env())["wall"])
                continue
            extra = dict(dict(OPTIONS)[n])
            trace = os.path.join(WORK, "options.%d.jsonl" % os.getpid())
            if os.path.exists(trace):
                os.unlink(trace)
            if "MEMPROF_FD" in extra:
                argv = ["sh", "-c", 'exec "$@" 3>"$T"', "sh", python] + script
                env = clean_env({"LD_PRELOAD": AGENT, "T": trace, **extra})
            else:
                argv = [python] + script
                env = clean_env({"LD_PRELOAD": AGENT, "MEMPROF_OUTPUT": trace, **extra})
            r = run_process(argv, env, trace)
            res[n].append(r["wall"])
            events[n] = (r["events"], r["bytes"])
        log("  options rep %d/%d" % (rep + 1, reps))
    plain = med(res["plain"])
    full = events.get(OPTIONS[0][0], (0, 0))[0] or 1
    out = []
    for n, _ in OPTIONS:
        ev, size = events.get(n, (0, 0))
        # Per traced line event of the default run: the aggregating mode
        # writes no events, but traces the same lines.
        out.append(dict(name=n, wall=med(res[n]), us=(med(res[n]) - plain) / full * 1e6,
                        bytes_per_event=size / full))
    return dict(plain=plain, rows=out, reps=reps, events=full)


def paired(a, b, f):
    """Median of f(a[i], b[i]) over the runs both have: the runs of one
    repetition ran back to back, so machine noise hits both alike."""
    vals = [f(x, y) for x, y in zip(a, b)]
    return med(vals), (min(vals) if vals else float("nan")), (max(vals) if vals else float("nan"))


def summarize(w, data):
    """Per-variant figures for one workload on one interpreter."""
    res = data["results"]
    plain = res["plain"]
    out = {"plain": dict(runs=len(plain), wall=med([r["wall"] for r in plain]),
                         cpu=med([r["cpu"] for r in plain]))}
    mp = res.get("memory_profiler", [])
    lp = res.get("line_profiler", [])
    if lp:
        out["line_profiler"] = dict(runs=len(lp), wall=med([r["wall"] for r in lp]),
                                    cpu=med([r["cpu"] for r in lp]))
        out["line_profiler"]["ratio"], _, _ = paired(lp, plain, lambda x, y: x["wall"] / y["wall"])
    for name in variants_of(w):
        runs = res[name]
        s = dict(runs=len(runs), wall=med([r["wall"] for r in runs]),
                 cpu=med([r["cpu"] for r in runs]))
        s["ratio"], s["ratio_min"], s["ratio_max"] = paired(runs, plain, lambda x, y: x["wall"] / y["wall"])
        s["cpu_ratio"], _, _ = paired(runs, plain, lambda x, y: x["cpu"] / y["cpu"])
        s["extra_ms"], s["extra_ms_min"], s["extra_ms_max"] = paired(
            runs, plain, lambda x, y: (x["wall"] - y["wall"]) * 1e3)
        # Noise only ever adds time: the fastest runs are another estimate.
        s["extra_ms_fastest"] = (min(r["wall"] for r in runs) - min(r["wall"] for r in plain)) * 1e3
        s["ratio_fastest"] = min(r["wall"] for r in runs) / min(r["wall"] for r in plain)
        if all("inner" in r for r in runs + plain):
            s["inner_ratio"], s["inner_min"], s["inner_max"] = paired(
                runs, plain, lambda x, y: x["inner"] / y["inner"])
            s["inner_fastest"] = min(r["inner"] for r in runs) / min(r["inner"] for r in plain)
        s["events"] = med([r["events"] for r in runs])
        s["events_all"] = sorted(set(r["events"] for r in runs))
        s["rss"] = ",".join(sorted(set(r.get("rss", "?") for r in runs)))
        s["bytes_per_event"] = med([r["bytes"] / r["events"] for r in runs if r["events"]]) if s["events"] else None
        if s["events"] and w.get("per_event", True):
            s["us_per_event"], s["us_min"], s["us_max"] = paired(
                runs, plain, lambda x, y: (x["wall"] - y["wall"]) / x["events"] * 1e6)
        if mp:
            s["vs_mprof"], s["vs_mprof_min"], s["vs_mprof_max"] = paired(mp, runs, lambda x, y: x["wall"] / y["wall"])
        if lp:
            # Below 1: memprof took less time than line_profiler.
            s["vs_lprof"], s["vs_lprof_min"], s["vs_lprof_max"] = paired(runs, lp, lambda x, y: x["wall"] / y["wall"])
            s["vs_lprof_cpu"], _, _ = paired(runs, lp, lambda x, y: x["cpu"] / y["cpu"])
        out[name] = s
    if mp:
        m = dict(runs=len(mp), wall=med([r["wall"] for r in mp]), cpu=med([r["cpu"] for r in mp]))
        m["ratio"], _, _ = paired(mp, plain, lambda x, y: x["wall"] / y["wall"])
        ev = out[VARIANTS[0][0]].get("events")
        if ev and w.get("per_event", True):
            m["us_per_event"], _, _ = paired(mp, plain, lambda x, y: (x["wall"] - y["wall"]) / ev * 1e6)
        out["memory_profiler"] = m
    if data["floors"]:
        out["floor"] = {k: med([f[k] for f in data["floors"]]) for k in data["floors"][0]}
    return out


# ---------------------------------------------------------------------------
# The report on a synthetic trace

def tight_lines():
    """(first, last, for, body1, body2, setup1, setup2, return) line numbers
    of loop() in workloads/tight.py, so that the report finds the source."""
    src = open(os.path.join(WORKLOADS_DIR, "tight.py")).read().splitlines()
    first = next(i for i, l in enumerate(src, 1) if l.startswith("@profile"))
    ret = next(i for i, l in enumerate(src, 1) if l.strip().startswith("return len(out)"))
    loop = next(i for i, l in enumerate(src, 1) if l.strip().startswith("for i in range"))
    return first, ret, loop


def synthetic_trace(events):
    """A trace of `events` events as the agent writes it for tight.py:
    header, file, code and thread records, chunks of at most 64 KiB each
    opened by a pid record, events [kind,code,line,rss,t], the end record.
    Generated once into build/bench/ (never committed)."""
    first, ret, loop = tight_lines()
    n = (events - 6) // 3 + (1 if (events - 6) % 3 else 0)   # iterations
    path = os.path.join(WORK, "report-%d.jsonl" % events)
    if os.path.exists(path):
        return path
    log("bench: generating %s (once)" % path)
    pid = 424242
    script = os.path.join(WORKLOADS_DIR, "tight.py")
    st = os.stat(script)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps({"k": "memprof", "version": 1, "pid": pid, "ppid": 1, "python": "3.11.2",
                            "argv": ["tight.py", str(n)], "exe": "/usr/bin/python3.11",
                            "cwd": WORKLOADS_DIR, "start_ns": 1764086400123456789,
                            "t0_ns": 81234567890123, "page_size": 4096}, separators=(",", ":")) + "\n")
        f.write(json.dumps({"k": "file", "id": 1, "path": "tight.py", "abspath": script,
                            "size": st.st_size, "mtime_ns": st.st_mtime_ns}, separators=(",", ":")) + "\n")
        f.write(json.dumps({"k": "code", "id": 1, "file": 1, "name": "loop", "qualname": "loop",
                            "firstlineno": first, "top": 1, "lines": [first, ret]},
                           separators=(",", ":")) + "\n")
        f.write('{"k":"thread","id":1,"tid":%d,"ident":139882609829312,"name":"MainThread"}\n' % pid)
        marker = '{"k":"pid","pid":%d}\n' % pid
        rss0 = 11575296
        t = 38662285
        written = 0
        chunk, size = [], 0

        def emit(line):
            nonlocal chunk, size, written
            if size + len(line) > 65536 - len(marker):
                f.write(marker if written else "")
                f.write("".join(chunk))
                written += 1
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
            return 1

        count = 0
        count += emit("[1,1,%d,%d,%d]\n" % (first, rss0, t))
        count += emit("[0,1,%d,%d,%d]\n" % (first + 2, rss0, t + 2800))
        count += emit("[0,1,%d,%d,%d]\n" % (first + 3, rss0, t + 5200))
        l1, l2 = loop + 1, loop + 2
        for i in range(n):
            if count + 3 > events - 3:
                break
            t += 5800
            rss = rss0 + (i * 24 // 4096) * 4096          # the list grows
            chunk_text = "[0,1,%d,%d,%d]\n[0,1,%d,%d,%d]\n[0,1,%d,%d,%d]\n" % (
                loop, rss, t, l1, rss, t + 2000, l2, rss, t + 3900)
            if size + len(chunk_text) > 65536 - len(marker):
                f.write(marker if written else "")
                f.write("".join(chunk))
                written += 1
                chunk, size = [], 0
            chunk.append(chunk_text)
            size += len(chunk_text)
            count += 3
        while count < events - 2:
            t += 1900
            count += emit("[0,1,%d,%d,%d]\n" % (loop, rss, t))
        count += emit("[0,1,%d,%d,%d]\n" % (ret, rss, t + 2000))
        count += emit("[2,1,%d,%d,%d]\n" % (ret, rss, t + 3000))
        f.write(marker if written else "")
        f.write("".join(chunk))
        f.write('{"k":"end","t":%d}\n' % (t + 5000 - 38662285))
    os.rename(tmp, path)
    return path


def bench_report(quick):
    events = REPORT_EVENTS if not quick else 1_000_000
    path = synthetic_trace(events)
    n, size = count_trace(path)
    runs = []
    reps = REPORT_REPS if not quick else 2
    for rep in range(reps):
        r = run_process([REPORT, path], clean_env(), peak=True)
        runs.append(r)
        log("  report rep %d/%d: %.3fs, %.1f MiB" % (rep + 1, reps, r["wall"], r["maxrss_kib"] / 1024))
    wall = med([r["wall"] for r in runs])
    return dict(events=n, bytes=size, runs=len(runs), wall=wall, cpu=med([r["cpu"] for r in runs]),
                eps=n / wall, eps_min=n / max(r["wall"] for r in runs),
                peak_mib=max(r["maxrss_kib"] for r in runs) / 1024)


# ---------------------------------------------------------------------------
# Tables

def rst_table(header, rows):
    cols = len(header)
    cells = [header] + rows
    width = [max(len(str(r[i])) for r in cells) for i in range(cols)]
    rule = "  ".join("=" * w for w in width)
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, width)).rstrip()  # noqa: E731
    return "\n".join([rule, fmt(header), rule] + [fmt(r) for r in rows] + [rule])


def f_s(x):
    return "%.3f" % x if x == x else "-"


def f_x(x, nd=2):
    return ("%." + str(nd) + "f") % x if x is not None and x == x else "-"


def workload_rows(all_results, pythons):
    rows = []
    for w in WORKLOADS:
        for label, _, _ in pythons:
            s = all_results.get((w["key"], label))
            if not s:
                continue
            p = s["plain"]
            if w["key"] == "startup":
                rows.append([w["title"], label, "plain", p["runs"], "%.1f ms" % (p["wall"] * 1e3),
                             "", "", "", "", ""])
            else:
                rows.append([w["title"], label, "plain", p["runs"], f_s(p["wall"]), "1", "", "", "", ""])
            for name in variants_of(w):
                v = s[name]
                ev = v["events"]
                vs = ""
                if "vs_mprof" in v:
                    vs = "%.1fx faster" % v["vs_mprof"]
                elif "vs_mprof_extrapolated" in v:
                    vs = "%.0fx faster (extrapolated)" % v["vs_mprof_extrapolated"]
                if w["key"] == "startup":
                    rows.append(["", label, name, v["runs"], "%.1f ms" % (v["wall"] * 1e3),
                                 "%+.2f ms" % v["extra_ms"], "", "", "", ""])
                    continue
                rows.append(["", label, name, v["runs"], f_s(v["wall"]),
                             "%.3f" % v["ratio"] if v["ratio"] < 1.2 else "%.1f" % v["ratio"],
                             "{:,}".format(int(ev)) if ev else "0",
                             "%.2f" % v["us_per_event"] if "us_per_event" in v else "-", vs,
                             "%.1f" % v["bytes_per_event"] if v.get("bytes_per_event") else "-"])
            if "line_profiler" in s:
                m = s["line_profiler"]
                rows.append(["", label, "line_profiler (reads no memory)", m["runs"], f_s(m["wall"]),
                             "%.1f" % m["ratio"], "", "", "", ""])
            if "memory_profiler" in s:
                m = s["memory_profiler"]
                rows.append(["", label, "memory_profiler", m["runs"], f_s(m["wall"]), "%.1f" % m["ratio"], "",
                             "%.1f" % m["us_per_event"] if "us_per_event" in m else "", "1", ""])
            elif "mprof_extrapolated" in s:
                m = s["mprof_extrapolated"]
                rows.append(["", label, "memory_profiler (extrapolated)", 0, "~%.0f" % m["wall"],
                             "~%.0f" % m["ratio"], "", "%.1f" % m["us_per_event"], "1", ""])
    header = ["workload", "Python", "run", "runs", "wall (s, median)", "x plain", "events",
              "us/event", "vs memory_profiler", "bytes/event"]
    return rst_table(header, rows)


def floor_rows(all_results, pythons):
    rows = []
    for label, _, _ in pythons:
        s = all_results.get(("tight200k", label))
        if not s or "floor" not in s:
            continue
        fl = s["floor"]
        rows.append([label, "%.0f" % fl["bare_syscall_ns"], "%.0f" % fl["clock_gettime_ns"],
                     "%.0f" % fl["pread_statm_ns"], "%.0f" % fl["event_floor_ns"], "%.0f" % fl["getrusage_ns"]])
    header = ["measured during the tight-loop runs on", "bare syscall (ns)", "clock_gettime (ns)",
              "pread statm (ns)", "pread + clock = event floor (ns)", "getrusage (ns)"]
    return rst_table(header, rows)


def inner_text(v):
    pct = lambda x: (x - 1) * 100  # noqa: E731
    text = ""
    if "inner_ratio" in v:
        text = "work timed inside: %+.1f%% (runs %+.1f..%+.1f; fastest vs fastest %+.1f%%); " % (
            pct(v["inner_ratio"]), pct(v["inner_min"]), pct(v["inner_max"]), pct(v["inner_fastest"]))
    return text + "whole process: %+.1f%% wall (runs %+.1f..%+.1f)" % (
        pct(v["ratio"]), pct(v["ratio_min"]), pct(v["ratio_max"]))


def targets(all_results, pythons, report, first_profile=None, undecorated=None):
    rows = []
    V = VARIANTS[0][0]

    def verdict(ok, ok_fastest=None):
        # Two estimates (median of paired ratios, fastest run vs fastest
        # run) that disagree: the machine's noise hides the answer.
        if ok_fastest is not None and ok_fastest != ok:
            return "unresolved (noise)"
        return "met" if ok else "MISSED"

    def noisy(v, lim):
        if "inner_ratio" in v:
            return verdict(v["inner_ratio"] <= lim, v["inner_fastest"] <= lim)
        return verdict(v["ratio"] <= lim, v["ratio_fastest"] <= lim)

    def get(key, label):
        return all_results.get((key, label))

    for label, _, minor in pythons:
        for key in ("tight2M", "tight200k"):
            s = get(key, label)
            if s and s[V]["events"]:
                v = s[V]
                fl = s.get("floor") or (get("tight200k", label) or {}).get("floor")
                rows.append(["fast path: traced line event <= %.2f us, all included" % T_EVENT_US, label,
                             "%s, %s source: %.3f us (runs %.3f..%.3f; statm pread + clock floor %.2f)"
                             % (key, v.get("rss", "?"), v["us_per_event"], v["us_min"], v["us_max"],
                                fl["event_floor_ns"] / 1e3 if fl else float("nan")),
                             verdict(v.get("rss") == "tracepoint" and v["us_per_event"] <= T_EVENT_US)])
                break
    for label, _, minor in pythons:
        for key in ("tight200k", "tight2M"):
            s = get(key, label)
            if s and "vs_lprof" in s[V]:
                v = s[V]
                rows.append(["tight loop no slower than line_profiler (reads no memory)" if key == "tight200k"
                             else "", label,
                             "%s: memprof's time %.2fx line_profiler's (runs %.2f..%.2f; CPU time %.2fx)"
                             % (key, v["vs_lprof"], v["vs_lprof_min"], v["vs_lprof_max"], v["vs_lprof_cpu"]),
                             verdict(v["vs_lprof"] <= T_VS_LPROF)])
    for label, _, minor in pythons:
        s = get("tight200k", label)
        if s and "vs_mprof" in s[V]:
            v = s[V]
            rows.append(["tight loop >= %.0fx faster than memory_profiler" % T_VS_MPROF, label,
                         "N=200,000: %.1fx (runs %.1f..%.1f), measured side by side"
                         % (v["vs_mprof"], v["vs_mprof_min"], v["vs_mprof_max"]),
                         verdict(v["vs_mprof"] >= T_VS_MPROF)])
        s = get("tight2M", label)
        if s and "vs_mprof_extrapolated" in s[V]:
            rows.append(["", label, "N=2,000,000: %.1fx (memory_profiler extrapolated)" % s[V]["vs_mprof_extrapolated"],
                         verdict(s[V]["vs_mprof_extrapolated"] >= T_VS_MPROF)])
    for label, _, minor in pythons:
        s = get("tight200k", label)
        fast, slow = (s or {}).get(V), (s or {}).get("memprof statm")
        if s and fast and slow and fast.get("us_per_event") and "floor" in s:
            fl = s["floor"]["pread_statm_ns"] / 1e3
            rows.append(["fast path: traced line event <= 1/4 of a statm pread (same run)", label,
                         "%s source: %.3f us/event; statm source %.3f us/event; pread floor %.3f us: "
                         "%.2fx the pread, %.2fx the statm source"
                         % (fast.get("rss", "?"), fast["us_per_event"], slow["us_per_event"], fl,
                            fast["us_per_event"] / fl, fast["us_per_event"] / slow["us_per_event"]),
                         verdict(fast.get("rss") == "tracepoint" and fast["us_per_event"] <= fl / 4)])
            rows.append(["statm path: traced line event <= 1.25x (pread + clock), same run", label,
                         "%.3f us/event against %.3f us: %.2fx"
                         % (slow["us_per_event"], s["floor"]["event_floor_ns"] / 1e3,
                            slow["us_per_event"] / (s["floor"]["event_floor_ns"] / 1e3)),
                         verdict(slow["us_per_event"] <= 1.25 * s["floor"]["event_floor_ns"] / 1e3)])
    for label, _, minor in pythons:
        s = get("undecorated", label)
        if s:
            lim = T_UNDECORATED["3.11"] if minor <= 11 else T_UNDECORATED["3.12+"]
            v = s[V]
            rows.append(["undecorated code, wall time (informative: see the callgrind row)",
                         label, inner_text(v), "-"])
    for label, r in (undecorated or {}).items():
        for key, what in (("undecorated", "undecorated code"), ("steady", "nothing selected, steady state")):
            if key not in r:
                continue
            lim = T_UNDECORATED["3.11"] if r["minor"] <= 11 else T_UNDECORATED["3.12+"]
            x = r[key]
            rows.append(["%s <= %d%% more instructions (3.11), <= %d%% (3.12+), callgrind"
                         % (what, round((T_UNDECORATED["3.11"] - 1) * 100),
                            round((T_UNDECORATED["3.12+"] - 1) * 100)), label,
                         "%+.2f%% (%s units: plain %s, agent %s instructions)"
                         % ((x["agent"] / x["plain"] - 1) * 100, UNDECORATED_UNITS[1] - UNDECORATED_UNITS[0],
                            "{:,}".format(x["plain"]), "{:,}".format(x["agent"])),
                         verdict(x["agent"] <= x["plain"] * lim)])
    for label, _, minor in pythons:
        s = get("calls", label)
        if s:
            v = s[V]
            rows.append(["many calls of a tiny decorated function <= %.0fx plain" % T_CALLS, label,
                         "%.1fx (%.2f us per call; %s source)" % (v["ratio"], v["extra_ms"] * 1e3 / 200000,
                                                                  v.get("rss", "?")),
                         verdict(v["ratio"] <= T_CALLS)])
    for label, _, minor in pythons:
        for key, where in (("peak_shell", "from a shell"), ("peak_python", "exec'd from a 200 MiB Python")):
            s = get(key, label)
            if not s or "memprof peak" not in s or not s["memprof"].get("us_per_event"):
                continue
            base, pk = s["memprof"], s["memprof peak"]
            text = "%s source: %.3f us/event with the peak, %.3f without: %.2fx" % (
                pk.get("rss", "?"), pk["us_per_event"], base["us_per_event"], pk["us_per_event"] / base["us_per_event"])
            sb, sp = s.get("memprof statm"), s.get("memprof peak statm")
            if sb and sp and sb.get("us_per_event"):
                text += "; statm source: %.3f against %.3f: %.2fx" % (
                    sp["us_per_event"], sb["us_per_event"], sp["us_per_event"] / sb["us_per_event"])
            rows.append(["MEMPROF_PEAK=1 <= %.1fx the default's per-event cost, %s" % (T_PEAK, where), label,
                         text, verdict(pk["us_per_event"] <= T_PEAK * base["us_per_event"])])
    for label, _, minor in pythons:
        s = get("faults", label)
        if s and "inner_ratio" in s[V]:
            v, st = s[V], s.get("memprof statm", {})
            rows.append(["page faults <= %d%% dearer with the fast path on" % round((T_FAULTS - 1) * 100), label,
                         "%s source: the faulting work %.2fx plain (runs %.2f..%.2f)%s"
                         % (v.get("rss", "?"), v["inner_ratio"], v["inner_min"], v["inner_max"],
                            "; statm source %.2fx" % st["inner_ratio"] if "inner_ratio" in st else ""),
                         verdict(v.get("rss") == "tracepoint" and v["inner_ratio"] <= T_FAULTS)])
    for label, _, minor in pythons:
        s = get("startup", label)
        if s:
            v = s[V]
            rows.append(["agent loaded, nothing selected: startup <= +%.0f ms" % T_STARTUP_MS, label,
                         "%+.2f ms (runs %+.2f..%+.2f; fastest run vs fastest run %+.2f ms)"
                         % (v["extra_ms"], v["extra_ms_min"], v["extra_ms_max"], v["extra_ms_fastest"]),
                         verdict(v["extra_ms"] <= T_STARTUP_MS, v["extra_ms_fastest"] <= T_STARTUP_MS)])
        s = get("steady", label)
        if s:
            v = s[V]
            rows.append(["agent loaded, nothing selected: steady state within %d%%" % round((T_STEADY - 1) * 100),
                         label, inner_text(v), noisy(v, T_STEADY)])
    for label, r in (first_profile or {}).items():
        rows.append(["first @profile <= %s instructions over the agent with nothing profiled"
                     % "{:,}".format(T_FIRST_PROFILE), label, "{:+,} (callgrind)".format(r["first"]),
                     verdict(r["first"] <= T_FIRST_PROFILE)])
    tot_b = tot_e = 0
    worst = None
    for w in WORKLOADS:
        if w["key"] == "faults":
            continue    # a handful of events in a trace of start-up definitions
        for label, _, _ in pythons:
            s = get(w["key"], label)
            if s and s[V].get("events") and s[V].get("bytes_per_event"):
                tot_e += s[V]["events"]
                tot_b += s[V]["events"] * s[V]["bytes_per_event"]
                if worst is None or s[V]["bytes_per_event"] > worst[0]:
                    worst = (s[V]["bytes_per_event"], w["key"], label)
    if tot_e:
        rows.append(["trace size <= %.0f bytes per line event on average" % T_BYTES, "all",
                     "%.1f on average; worst %.1f (%s, %s)" % (tot_b / tot_e, worst[0], worst[1], worst[2]),
                     verdict(tot_b / tot_e <= T_BYTES)])
    if report:
        rows.append(["report >= %.0f million line events per second" % (T_REPORT_EPS / 1e6), "C",
                     "%.1f million/s (%s events in %.2f s)" % (report["eps"] / 1e6, "{:,}".format(report["events"]),
                                                              report["wall"]),
                     verdict(report["eps"] >= T_REPORT_EPS)])
        rows.append(["report peak memory <= %.0f MiB for 10 million events" % T_REPORT_MIB, "C",
                     "%.1f MiB" % report["peak_mib"], verdict(report["peak_mib"] <= T_REPORT_MIB)])
    return rst_table(["target", "Python", "measured", "verdict"], rows)


# ---------------------------------------------------------------------------

def source_state():
    """The commit the binaries were built from, and whether the agent's or
    the report's sources had uncommitted changes."""
    def git(*a):
        return subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = [l[3:] for l in git("status", "--porcelain", "--", "preload", "collector", "report").splitlines()]
    return head, dirty


def machine_info():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), kernel=platform.release(),
                os=(platform.freedesktop_os_release().get("PRETTY_NAME", "?")
                    if hasattr(platform, "freedesktop_os_release") else "?"),
                load=" ".join("%.2f" % x for x in os.getloadavg()))


def mprof_version():
    return subprocess.run([MPROF_PYTHON, "-c", "import memory_profiler as m, psutil as p; "
                           "print(m.__version__, p.__version__)"],
                          capture_output=True, text=True).stdout.split() or ["absent", ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few runs of each, for trying the harness")
    ap.add_argument("--only", default="", help="comma-separated workload keys (and 'report')")
    ap.add_argument("--with-312", action="store_true", help="also pyenv's 3.12")
    ap.add_argument("--output", help="where to write the table (default BENCHMARKS.rst, "
                                     "or build/bench/BENCHMARKS.quick.rst with --quick or --only)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    for needed in (BUILT_AGENT, BUILT_REPORT, FLOOR):
        if not os.path.exists(needed):
            raise SystemExit("bench: %s is missing: run make bench" % needed)
    os.makedirs(os.path.join(WORK, "bin"), exist_ok=True)
    for src, dst in ((BUILT_AGENT, AGENT), (BUILT_REPORT, REPORT)):
        shutil.copy2(src, dst + ".tmp")
        os.replace(dst + ".tmp", dst)
    start = time.time()
    info = machine_info()
    info["head"], info["dirty"] = source_state()
    if os.getloadavg()[0] > (os.cpu_count() or 1) * 0.75:
        log("bench: warning: load average %.2f on %d cores: other jobs will blur the figures"
            % (os.getloadavg()[0], os.cpu_count()))
    pythons, notes = find_pythons(args.with_312)
    for n in notes:
        log("bench: note: " + n)
    mver = mprof_version()
    if mver[0] == "absent":
        notes.append("memory_profiler: not importable by %s, its runs are skipped" % MPROF_PYTHON)
        for w in WORKLOADS:
            w["mprof"] = 0
    have_lprof = subprocess.run([MPROF_PYTHON, "-c", "import " + LPROF_MODULE], capture_output=True).returncode == 0
    if not have_lprof:
        notes.append("line_profiler: %s cannot import %s (python3-line-profiler), its runs are skipped"
                     % (MPROF_PYTHON, LPROF_MODULE))
    all_results = {}
    raw = {}
    for w in WORKLOADS:
        if only and w["key"] not in only:
            continue
        for label, path, minor in pythons:
            log("bench: %s on %s" % (w["title"], label))
            data = bench_workload(w, label, path, path == "/usr/bin/python3.11", args.quick, have_lprof)
            raw["%s|%s" % (w["key"], label)] = data
            all_results[(w["key"], label)] = summarize(w, data)
    # memory_profiler at 2,000,000 iterations would take minutes: its
    # per-event cost measured at 200,000 is extrapolated, and said so.
    for w in WORKLOADS:
        src = w.get("extrapolate_mprof_from")
        if not src:
            continue
        for label, _, _ in pythons:
            s, base = all_results.get((w["key"], label)), all_results.get((src, label))
            if not s or not base or "memory_profiler" not in base:
                continue
            us = base["memory_profiler"]["us_per_event"]
            ev = s[VARIANTS[0][0]]["events"]
            est = s["plain"]["wall"] + us * ev / 1e6
            s["mprof_extrapolated"] = dict(wall=est, ratio=est / s["plain"]["wall"], us_per_event=us)
            for name, _ in VARIANTS:
                s[name]["vs_mprof_extrapolated"] = est / s[name]["wall"]
    heap = None
    if not only or "heap" in only:
        log("bench: heap accounting per malloc/free pair")
        out = subprocess.run(["sh", os.path.join(ROOT, "bench", "heap_micro.sh")], capture_output=True,
                             text=True, cwd=ROOT)
        heap = out.stdout.strip() if out.returncode == 0 else "failed: " + out.stderr.strip()[-500:]
    sampler = None
    if not only or "sampler" in only:
        log("bench: the sampler thread's CPU time")
        sampler = bench_sampler(args.quick)
    options = None
    if not only or "options" in only:
        log("bench: the cost of each option")
        options = bench_options(args.quick)
    first_profile = None
    if not only or "first_profile" in only:
        first_profile = bench_first_profile(pythons)
        if first_profile is None:
            notes.append("valgrind: not installed, the first @profile is not measured")
    undecorated = None
    if not only or "undecorated_callgrind" in only:
        undecorated = bench_undecorated(pythons)
    report = None
    if not only or "report" in only:
        log("bench: memprof-report on a synthetic trace")
        report = bench_report(args.quick)
    elapsed = time.time() - start
    info["load_end"] = " ".join("%.2f" % x for x in os.getloadavg())

    tables = render(info, pythons, notes, mver, all_results, report, elapsed, args, options, heap, sampler,
                    first_profile, undecorated)
    print(tables)
    out = args.output or (os.path.join(WORK, "BENCHMARKS.quick.rst") if (args.quick or only) else OUT_RST)
    with open(out, "w") as f:
        f.write(tables)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(dict(raw=raw, summary={"%s|%s" % k: v for k, v in all_results.items()}, report=report,
                       first_profile=first_profile, undecorated=undecorated, info=info),
                  f, indent=1, default=str)
    log("bench: written to %s (raw figures in %s) in %.0f s" % (out, os.path.join(WORK, "results.json"), elapsed))


def render(info, pythons, notes, mver, all_results, report, elapsed, args, options=None, heap=None,
           sampler=None, first_profile=None, undecorated=None):
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    L = []
    L.append("memprof benchmarks")
    L.append("==================")
    L.append("")
    L.append("Written by ``make bench`` (``bench/run.py``; how the figures are taken:")
    L.append("``bench/README``). Do not edit by hand: run it again.%s" % (
        " **Quick run: too few runs to trust.**" if args.quick else ""))
    L.append("")
    L.append("Machine")
    L.append("-------")
    L.append("")
    L.append("- date: %s; the whole run took %.0f s" % (date, elapsed))
    L.append("- CPU: %s, %d cores; kernel %s; %s" % (info["cpu"], info["cores"], info["kernel"], info["os"]))
    L.append("- load average at the start %s, at the end %s (a shared machine: other jobs ran meanwhile)"
             % (info["load"], info["load_end"]))
    L.append("- memprof built from commit %s%s" % (info["head"], (
        " with uncommitted changes in %d files of preload/, collector/, report/" % len(info["dirty"])
        if info["dirty"] else "")))
    L.append("- Pythons: %s" % "; ".join("%s ``%s``" % (label, path) for label, path, _ in pythons))
    for n in notes:
        L.append("- note: %s" % n)
    L.append("- memory_profiler %s (psutil %s) under ``%s`` (Debian's 3.11 only)" % (mver[0], mver[-1], MPROF_PYTHON))
    L.append("- memprof variants: %s" % "; ".join("%s %s" % (n, json.dumps(e) if e else "(default settings)")
                                                  for n, e in VARIANTS + EXTRA_VARIANTS))
    L.append("- line_profiler: ``%s -m %s -l`` (Debian's python3-line-profiler; 3.11 only), a line"
             % (MPROF_PYTHON, LPROF_MODULE))
    L.append("  tracer that reads no memory, side by side with the others")
    L.append("")
    L.append("Workloads")
    L.append("---------")
    L.append("")
    L.append("Wall time of the whole process, median of ``runs`` runs; plain, memprof and")
    L.append("memory_profiler interleaved run by run. ``x plain`` and ``vs memory_profiler``")
    L.append("are medians of the per-repetition ratios (runs of the same repetition ran back")
    L.append("to back). ``us/event`` is (memprof - plain) / events, per repetition, with")
    L.append("``events`` the trace's lines that start with ``[`` (call, line and return")
    L.append("events): everything the agent costs (start-up, tracing, writing) is charged to")
    L.append("the events. On memory_profiler's rows it is its own per-event cost")
    L.append("(same event count). ``bytes/event``: trace size / events, the")
    L.append("definitions included. memory_profiler's run counts are lower where a run")
    L.append("takes tens of seconds; at N=2,000,000 it is not run at all: its row is")
    L.append("plain + its per-event cost measured at N=200,000 x the events, labelled")
    L.append("extrapolated. The MEMPROF_PEAK workloads run the tight loop (plain runs")
    L.append("alike) through ``sh -c`` (the shell forks and execs it) or exec'd from a")
    L.append("Python holding 200 MiB (``workloads/big_parent.py``: getrusage's peak then")
    L.append("carries that image's). The page-fault workload is judged on the faulting")
    L.append("work timed inside the process.")
    L.append("")
    L.append(workload_rows(all_results, pythons))
    L.append("")
    fl = floor_rows(all_results, pythons)
    if fl.count("\n") > 3:
        L.append("The one-syscall floor")
        L.append("---------------------")
        L.append("")
        L.append("``build/bench/floor`` (``bench/floor.c``), run once per repetition of the")
        L.append("N=200,000 tight loop: nanoseconds per call, in C, of what the agent does per")
        L.append("event at the least (``pread`` of a kept-open ``/proc/self/statm`` and")
        L.append("``clock_gettime``), and for scale a bare system call (``getppid``) and")
        L.append("``getrusage``. The agent's ``us/event`` above minus this floor is what")
        L.append("the interpreter's tracing, the agent's code and the writes cost.")
        L.append("")
        L.append(fl)
        L.append("")
    if report:
        L.append("memprof-report")
        L.append("--------------")
        L.append("")
        L.append("``build/memprof-report`` on a synthetic trace (``build/bench/report-*.jsonl``,")
        L.append("generated once; the agent's format for ``bench/workloads/tight.py``), output")
        L.append("to /dev/null; peak RSS from ``/usr/bin/time -f %%M``; median of %d runs." % report["runs"])
        L.append("")
        L.append(rst_table(["events", "trace MiB", "wall (s, median)", "CPU (s)", "events/s (median)",
                            "events/s (slowest run)", "peak RSS (MiB, max)"],
                           [["{:,}".format(report["events"]), "%.0f" % (report["bytes"] / 2**20),
                             "%.2f" % report["wall"], "%.2f" % report["cpu"],
                             "{:,.0f}".format(report["eps"]), "{:,.0f}".format(report["eps_min"]),
                             "%.1f" % report["peak_mib"]]]))
        L.append("")
    if options:
        L.append("The options")
        L.append("-----------")
        L.append("")
        L.append("The N=200,000 tight loop (%s line events) under Debian's python3.11, each" % "{:,}".format(options["events"]))
        L.append("option interleaved with plain (%.3f s), median of %d runs. ``us/event`` is" % (options["plain"], options["reps"]))
        L.append("(run - plain) / the default run's events; ``bytes/event`` the trace's size")
        L.append("over the same count (the aggregating mode writes tables, not events).")
        L.append("")
        L.append(rst_table(["option", "wall (s, median)", "us/event", "bytes/event"],
                           [[o["name"], "%.3f" % o["wall"], "%.2f" % o["us"], "%.1f" % o["bytes_per_event"]]
                            for o in options["rows"]]))
        L.append("")
    if sampler and sampler["cpu_ns"] is not None:
        L.append("The sampler")
        L.append("-----------")
        L.append("")
        L.append("A traced ``python3.11 -c 'import time; time.sleep(...)'`` with the default")
        L.append("``MEMPROF_INTERVAL`` (10 ms): the sampler thread's CPU time from")
        L.append("``/proc/PID/task/TID/schedstat``, free of the machine's noise. Target: at most")
        L.append("1%% of the program's time. Measured: %d samples in %.1f s, %.2f ms of CPU,"
                 % (sampler["samples"], sampler["seconds"], sampler["cpu_ns"] / 1e6))
        L.append("**%.3f%% of one core**." % (100.0 * sampler["cpu_ns"] / 1e9 / sampler["seconds"]))
        L.append("")
    if first_profile:
        L.append("The first @profile")
        L.append("------------------")
        L.append("")
        L.append("Instructions counted by callgrind (deterministic: ``PYTHONHASHSEED=0``,")
        L.append("``MEMPROF_INTERVAL=off`` so that the sampler thread counts nothing) for")
        L.append("``bench/workloads/%s``, one tiny @profile call, against the same" % FIRST_PROFILE_SCRIPT)
        L.append("script with the decorator line blanked: without the agent (plain), under the")
        L.append("agent (nothing profiled), and under the agent as it is. The first @profile's")
        L.append("cost is the difference of the last two: compiling the lazily loaded part of")
        L.append("the Python side, finding the function's rows, the wrapper or sys.monitoring,")
        L.append("the trace's definitions and the few events. Target: at most %s." % "{:,}".format(T_FIRST_PROFILE))
        L.append("")
        L.append(rst_table(["Python", "plain", "agent, no decorator", "agent, one @profile",
                            "first @profile"],
                           [[label, "{:,}".format(r["plain"]), "{:,}".format(r["agent"]),
                             "{:,}".format(r["decorated"]), "{:+,}".format(r["first"])]
                            for label, r in first_profile.items()]))
        L.append("")
    if undecorated:
        L.append("Undecorated code in instructions")
        L.append("--------------------------------")
        L.append("")
        L.append("Instructions counted by callgrind (``PYTHONHASHSEED=0``, ``MEMPROF_INTERVAL=off``)")
        L.append("for ``undecorated.py`` (one short decorated call, then undecorated work) and")
        L.append("``nothing.py`` (the same work, nothing decorated) at %d and at %d units of"
                 % UNDECORATED_UNITS)
        L.append("work; the difference of the two is what the added units cost, start-up and")
        L.append("the decorated call cancelled out. Wall time on this machine cannot resolve 1%.")
        L.append("")
        rows = []
        for label, r in undecorated.items():
            for key in ("undecorated", "steady"):
                if key in r:
                    x = r[key]
                    rows.append([label, key + (".py" if key == "undecorated" else " (nothing.py)"),
                                 "{:,}".format(x["plain"]), "{:,}".format(x["agent"]),
                                 "%+.2f%%" % ((x["agent"] / x["plain"] - 1) * 100)])
        L.append(rst_table(["Python", "workload", "plain", "under the agent", "difference"], rows))
        L.append("")
    if heap:
        L.append("Heap accounting")
        L.append("---------------")
        L.append("")
        L.append("``bench/heap_micro.sh``: a C loop of 64-byte ``malloc``/``free`` pairs, timed")
        L.append("against glibc's ``__libc_malloc``/``__libc_free`` in the same process (median")
        L.append("ns per pair over 31 rounds of a million): without the agent, with the agent in")
        L.append("a process that is not Python (hooks only forward), and in a Python process")
        L.append("with ``MEMPROF_HEAP=1`` and no line traced. Budget: 30 ns per pair. ::")
        L.append("")
        L.extend("    " + line for line in heap.splitlines())
        L.append("")
    L.append("Targets")
    L.append("-------")
    L.append("")
    L.append(targets(all_results, pythons, report, first_profile, undecorated))
    L.append("")
    analysis = os.path.join(ROOT, "bench", "analysis.rst")
    if os.path.exists(analysis):
        with open(analysis) as f:
            L.append(f.read())
    return "\n".join(L)


if __name__ == "__main__":
    main()
