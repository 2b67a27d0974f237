#!/usr/bin/env python3
"""make test-real: CPython's own regression tests pass under the agent
exactly as without it.

    tests/real/run_real.py --agent build/libmemprof.so [--fast] [-j N] [TEST...]

Runs `/usr/bin/python3.11 -m test -jN --junit-xml ... SELECTION` once per
variant and compares the outcome of every test case (passed, failed, error,
skipped) and of every test module with the plain run:

- plain:      no agent (the reference);
- decorator:  LD_PRELOAD=libmemprof.so, MEMPROF_OUTPUT in a fresh directory,
              and a sitecustomize (on PYTHONPATH, in every variant) that
              applies the builtin `profile` to a few stdlib functions the
              tests call all the time (textwrap.dedent, json.dumps, ...), so
              profiled code really runs inside the tests, their threads and
              their child processes.  The traces must name those functions
              and hold their events, and every trace must read with
              memprof-report;
- files:      whole-file selection (MEMPROF_FILES), when the agent supports
              it (README.rst mentions MEMPROF_FILES); skipped with a message
              otherwise;
- every-file: MEMPROF_FILES='*', every function and module of every file
              profiled (the tests, unittest, the stdlib), on ALL_FILES_TESTS
              only (threads, unittest's own tests, functools, exceptions,
              subprocess), compared with the plain run of those modules.

The test package is Debian's libpython3.11-testsuite (make test-real
installs it through scripts/setup-debian.sh test-real).  --fast runs the
subset that `make test` includes.  Exit status 0 when every variant matches
the plain run, 1 on a difference, 2 when it cannot run at all.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = "/usr/bin/python3.11"

# About tracing, threads, signals, subprocesses, fork, gc, exits, frames, and
# the modules whose functions the sitecustomize profiles.  Measured on
# Debian 12, 2 cores, -j2: see README in this folder.
FULL = [
    "test_sys_settrace", "test_sys_setprofile", "test_trace", "test_bdb", "test_pdb",
    "test_threading", "test_threading_local", "test_signal", "test_faulthandler",
    "test_subprocess", "test_fork1", "test_multiprocessing_fork",
    "test_gc", "test_weakref", "test_sys", "test_os", "test_atexit",
    "test_traceback", "test_inspect", "test_functools", "test_generators",
    "test_contextlib", "test_exceptions", "test_json", "test_textwrap", "test_unittest",
]
# The modules of the every-file variant (MEMPROF_FILES='*'), a subset of FULL.
ALL_FILES_TESTS = ["test_threading", "test_unittest", "test_functools", "test_exceptions",
                   "test_subprocess"]
FAST = ["test_sys_settrace", "test_sys_setprofile", "test_gc", "test_atexit", "test_textwrap",
        "test_fork1"]

# Functions wrapped with builtins.profile in the decorator variant.
PROFILED = [
    ("textwrap", "dedent"), ("textwrap", "indent"), ("json", "dumps"), ("json", "loads"),
    ("shlex", "quote"), ("fnmatch", "fnmatch"), ("copy", "deepcopy"),
]

SITECUSTOMIZE = '''\
# tests/real/run_real.py: profile a few stdlib functions when the agent is
# there (builtins.profile exists); nothing otherwise.  Debian's own
# sitecustomize runs first, as it would without this file.
import builtins, importlib, os
try:
    with open("/etc/python3.11/sitecustomize.py", "rb") as _f:
        exec(compile(_f.read(), "/etc/python3.11/sitecustomize.py", "exec"))
except OSError:
    pass
if hasattr(builtins, "profile") and os.environ.get("MEMPROF_REAL_PROFILE") == "1":
    for _mod, _name in %r:
        _m = importlib.import_module(_mod)
        setattr(_m, _name, builtins.profile(getattr(_m, _name)))
'''


# Differences that are known bugs of the agent, reported to the lead: shown as
# KNOWN and not failing the run; one that disappears fails the run (remove it
# here), as an xfail(strict=True) would.
# case -> (variants, why)
KNOWN = {}


def agent_supports_files():
    readme = (ROOT / "README.rst").read_text(errors="replace")
    return "MEMPROF_FILES" in readme


def parse_junit(path):
    """{test id: outcome} for every test case in a regrtest --junit-xml file."""
    results = {}
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as e:
        return {"<junit-xml>": "unreadable: %s" % e}
    for case in tree.iter("testcase"):
        name = ".".join(x for x in (case.get("classname"), case.get("name")) if x)
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = child.tag
                break
            if child.tag == "skipped":
                outcome = "skipped"
        results[name] = outcome
    return results


def parse_modules(text):
    """{module: outcome} from regrtest's progress lines, e.g.
    "0:02:19 load avg: 5.42 [ 9/25/1] test_subprocess failed (2 failures)"."""
    import re
    mods = {}
    for m in re.finditer(r"\[\s*\d+/\d+(?:/\d+)?\] (test_\w+) (?:-- )?(\w+)", text):
        mods[m.group(1)] = m.group(2)
    return mods


def run_variant(name, tests, jobs, work, env_extra, timeout):
    out_dir = work / name
    out_dir.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMPROF_") and k != "LD_PRELOAD"}
    env["PYTHONPATH"] = str(work / "site")
    env.update(env_extra)
    junit = out_dir / "junit.xml"
    cmd = [PY, "-m", "test", "-j%d" % jobs, "--junit-xml", str(junit), *tests]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=out_dir, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout)
    took = time.monotonic() - start
    (out_dir / "output.txt").write_text(proc.stdout)
    return {"status": proc.returncode, "cases": parse_junit(junit),
            "modules": parse_modules(proc.stdout), "seconds": took, "output": proc.stdout,
            "dir": out_dir}


def case_module(case):
    """The regrtest module a test case id belongs to: test.test_os.X is
    test_os's; unittest's own tests (unittest.test.X) are test_unittest's."""
    if case.startswith("unittest.test."):
        return "test_unittest"
    parts = case.split(".")
    return parts[1] if len(parts) > 1 else case


def only_modules(result, modules, seen):
    """RESULT restricted to MODULES: their module outcomes, and the cases
    that belong to them by id (test.test_os.X is test_os's) or that the
    other run SEEN has (a case id does not always name its module:
    test_json runs test.test_pprint's doctests, test_unittest unittest.test's).
    The exit status is the whole run's, so it is left out."""
    return dict(result, status=None,
                cases={c: o for c, o in result["cases"].items()
                       if case_module(c) in modules or c in seen},
                modules={m: o for m, o in result["modules"].items() if m in modules})


def compare(ref, got, label):
    """Returns (differences, known differences seen).  A module's outcome or
    the exit status differing only because of known cases is not counted."""
    diffs = []
    known = []
    for case in sorted(set(ref["cases"]) | set(got["cases"])):
        a, b = ref["cases"].get(case), got["cases"].get(case)
        if a != b:
            if label in KNOWN.get(case, ((), ""))[0]:
                known.append(case)
            else:
                diffs.append("case %s: plain %s, %s %s" % (case, a, label, b))
    explained = {case_module(c) for c in known}
    for mod in sorted(set(ref["modules"]) | set(got["modules"])):
        a, b = ref["modules"].get(mod), got["modules"].get(mod)
        if a != b and mod not in explained:
            diffs.insert(0, "module %s: plain %s, %s %s" % (mod, a, label, b))
    if ref["status"] is not None and got["status"] != ref["status"] and not known:
        diffs.insert(0, "regrtest exit status %s, plain %s" % (got["status"], ref["status"]))
    return diffs, known


def report_known(known, tests, label):
    """Prints the known differences seen; returns the ones that were
    expected in this selection but did not show (they are fixed)."""
    for case in known:
        print("   KNOWN DIFFERENCE (%s): %s: %s" % (label, case, KNOWN[case][1]))
    gone = [c for c, (variants, _) in KNOWN.items()
            if label in variants and c not in known and case_module(c) in tests]
    for case in gone:
        print("   KNOWN DIFFERENCE GONE (%s): %s: remove it from KNOWN in %s"
              % (label, case, Path(__file__).name))
    return gone


def check_traces(trace_dir, report):
    """Every trace reads (exit 0; a truncation warning is allowed: test
    processes that are killed on purpose); returns the traces, the names of
    the profiled functions that have events, the number of events, and the
    problems."""
    import json
    problems = []
    traces = sorted(Path(trace_dir).glob("*"))
    ran = {}
    events = 0
    for t in traces:
        r = subprocess.run([str(report), str(t)], capture_output=True, text=True,
                           errors="replace", timeout=600)
        bad = [l for l in r.stderr.splitlines() if "truncated last record" not in l]
        if r.returncode != 0:
            problems.append("%s: memprof-report exit %d: %s" % (t.name, r.returncode,
                                                               "; ".join(bad[:3])))
        names = {}          # (pid, code id) -> qualname
        pid = None
        with open(t, "rb") as f:
            for raw in f:
                if raw.startswith(b"["):
                    events += 1
                    if raw.startswith((b"[0,", b"[1,")):
                        try:
                            code = int(raw.split(b",", 2)[1])
                        except ValueError:
                            continue
                        name = names.get((pid, code))
                        if name:
                            ran[name] = ran.get(name, 0) + 1
                elif raw.startswith(b"{"):
                    try:
                        rec = json.loads(raw)
                    except ValueError:
                        continue        # a cut-off last line
                    if rec.get("k") in ("memprof", "pid"):
                        pid = rec.get("pid")
                    elif rec.get("k") == "code":
                        names[(pid, rec.get("id"))] = rec.get("qualname") or rec.get("name")
    return traces, ran, events, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agent", required=True)
    ap.add_argument("--report", default=str(ROOT / "build" / "memprof-report"))
    ap.add_argument("--fast", action="store_true", help="the subset in `make test`")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--files-value",
                    default="textwrap.py,fnmatch.py,shlex.py,copy.py,*/json/*.py,test_textwrap.py",
                    help="MEMPROF_FILES for the whole-file variant")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()

    agent = Path(args.agent).resolve()
    report = Path(args.report).resolve()
    if not agent.exists() or not report.exists():
        print("test-real: %s or %s is missing: run make" % (agent, report))
        return 2
    if not Path("/usr/lib/python3.11/test/test_gc.py").exists():
        print("test-real: SKIPPED LOUDLY: CPython's test suite is not installed "
              "(scripts/setup-debian.sh test-real, package libpython3.11-testsuite)")
        return 0 if args.fast else 2
    tests = args.tests or (FAST if args.fast else FULL)

    work = Path(tempfile.mkdtemp(prefix="memprof-real-"))
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE % (PROFILED,))
    (work / "traces").mkdir()
    print("test-real: %d test modules, -j%d, work directory %s" % (len(tests), args.jobs, work))
    print("test-real: %s" % " ".join(tests))
    start = time.monotonic()
    failed = False
    nknown = 0
    try:
        ref = run_variant("plain", tests, args.jobs, work, {"MEMPROF_REAL_PROFILE": "1"},
                          args.timeout)
        print("== plain: regrtest exit %d, %d cases, %.0f s"
              % (ref["status"], len(ref["cases"]), ref["seconds"]))
        if not ref["cases"]:
            print(ref["output"][-3000:])
            print("test-real: no test case ran in the plain run")
            return 2

        agent_env = {"LD_PRELOAD": str(agent), "MEMPROF_REAL_PROFILE": "1",
                     "MEMPROF_OUTPUT": str(work / "traces" / "memprof.%p.jsonl")}
        got = run_variant("decorator", tests, args.jobs, work, agent_env, args.timeout)
        diffs, known = compare(ref, got, "decorator")
        traces, ran, events, problems = check_traces(work / "traces", report)
        print("== decorator: regrtest exit %d, %d cases, %.0f s; %d trace file(s), %d events; "
              "line/call events per profiled function: %s"
              % (got["status"], len(got["cases"]), got["seconds"], len(traces), events,
                 ", ".join("%s %d" % kv for kv in sorted(ran.items())) or "none"))
        if not ran:
            problems.append("no profiled stdlib function ran under the agent: the variant "
                            "tested nothing")
        for d in diffs + problems:
            print("   DIFFERENCE: " + d)
        gone = report_known(known, tests, "decorator")
        nknown += len(known)
        if diffs or problems or gone:
            failed = True
            print("   (outputs: %s, %s)" % (ref["dir"] / "output.txt", got["dir"] / "output.txt"))

        if agent_supports_files():
            shutil.rmtree(work / "traces")
            (work / "traces").mkdir()
            files_env = {"LD_PRELOAD": str(agent), "MEMPROF_FILES": args.files_value,
                         "MEMPROF_OUTPUT": str(work / "traces" / "memprof.%p.jsonl")}
            got = run_variant("files", tests, args.jobs, work, files_env, args.timeout)
            diffs, known = compare(ref, got, "files")
            traces, ran, events, problems = check_traces(work / "traces", report)
            print("== files (MEMPROF_FILES=%s): regrtest exit %d, %d cases, %.0f s; "
                  "%d trace file(s), %d events in %d functions"
                  % (args.files_value, got["status"], len(got["cases"]), got["seconds"],
                     len(traces), events, len(ran)))
            if not events:
                problems.append("MEMPROF_FILES selected nothing that ran")
            for d in diffs + problems:
                print("   DIFFERENCE: " + d)
            gone = report_known(known, tests, "files")
            nknown += len(known)
            failed = failed or bool(diffs or problems or gone)
        else:
            print("== files: SKIPPED: the agent does not support whole-file selection yet "
                  "(README.rst does not mention MEMPROF_FILES); this variant runs once it does")

        every = [t for t in tests if t in ALL_FILES_TESTS]
        if agent_supports_files() and every:
            shutil.rmtree(work / "traces")
            (work / "traces").mkdir()
            every_env = {"LD_PRELOAD": str(agent), "MEMPROF_FILES": "*",
                         "MEMPROF_OUTPUT": str(work / "traces" / "memprof.%p.jsonl")}
            got = run_variant("every-file", every, args.jobs, work, every_env, args.timeout)
            sub_ref = only_modules(ref, every, got["cases"])
            diffs, known = compare(sub_ref, got, "every-file")
            traces, ran, events, problems = check_traces(work / "traces", report)
            print("== every-file (MEMPROF_FILES='*', %s): regrtest exit %d, %d cases, %.0f s; "
                  "%d trace file(s), %d events in %d functions"
                  % (" ".join(every), got["status"], len(got["cases"]), got["seconds"],
                     len(traces), events, len(ran)))
            if not events:
                problems.append("MEMPROF_FILES='*' recorded nothing")
            for d in diffs + problems:
                print("   DIFFERENCE: " + d)
            gone = report_known(known, every, "every-file")
            nknown += len(known)
            failed = failed or bool(diffs or problems or gone)
        elif not every:
            print("== every-file: not run (none of %s selected)" % " ".join(ALL_FILES_TESTS))
    finally:
        if not args.keep and not failed:
            shutil.rmtree(work, ignore_errors=True)
    verdict = "DIFFERENCES" if failed else "identical outcomes" + (
        " apart from %d known difference(s) (bugs, see KNOWN)" % nknown if nknown else "")
    print("test-real: %s in %.0f s" % (verdict, time.monotonic() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
