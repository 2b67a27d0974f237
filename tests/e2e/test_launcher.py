"""The launcher's checks: every option judged before the program starts, the
command and its script looked for first, nothing left behind a run that
profiled nothing, the patterns that matched nothing named at exit, and a
trace that finds a place when the working directory is read-only."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from memprof_harness import unreachable_by_others

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "build" / "memprof"
PYTHON = "/usr/bin/python3.11"

PROFILED = """\
@profile
def f():
    a = [0] * 1000
    return len(a)
f()
open("ran", "w").close()
"""

PLAIN = """\
x = [0] * 1000
open("ran", "w").close()
"""


def env():
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("MEMPROF_") and k not in ("LD_PRELOAD", "PYTHONPATH")}
    e["PATH"] = "/usr/bin:/bin"        # python3 is Debian's
    return e


def launch(args, cwd, **kw):
    return subprocess.run([str(LAUNCHER), *args], cwd=cwd, env=kw.pop("env", env()),
                          capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture
def prog(tmp_path):
    (tmp_path / "prog.py").write_text(PROFILED)
    (tmp_path / "plain.py").write_text(PLAIN)
    return tmp_path


def left_behind(d):
    return sorted(p.name for p in d.iterdir() if p.name not in ("prog.py", "plain.py"))


@pytest.mark.parametrize("args, message", [
    (["--format", "htm"], "memprof: --format 'htm': give text, json, csv or html"),
    (["--top", "x"], "memprof: --top 'x': give a whole number of 1 or more"),
    (["--top", "0"], "memprof: --top '0': give a whole number of 1 or more"),
    (["--mode", "exakt"], "memprof: --mode 'exakt': give compat or exact"),
    (["--threads", "both"], "memprof: --threads 'both': give merge or split"),
    (["--processes", "all"], "memprof: --processes 'all': give merge or split"),
    (["--precision", "16"], "memprof: --precision '16': give a whole number from 0 to 15"),
    (["--interval", "5h"], "memprof: --interval '5h': give a duration from 1ms to 60s"),
    (["--plot", "/nonexistent/x.svg"],
     "memprof: --plot '/nonexistent/x.svg': there is no directory /nonexistent"),
    (["--plot", "x.png"], "memprof: --plot 'x.png': the plot is SVG only: give a file name "
                          "ending in .svg"),
    (["--report-output", "/nonexistent/r.txt"],
     "memprof: --report-output '/nonexistent/r.txt': there is no directory /nonexistent"),
    (["-o", "/nonexistent/t.jsonl"], "memprof: --output '/nonexistent/t.jsonl': there is no "
                                     "directory /nonexistent"),
    (["--files", ","], "memprof: --files ',': give one or more patterns"),
    (["--peek"], "memprof: unknown option --peek: did you mean --peak?"),
    (["--functons", "f"], "memprof: unknown option --functons: did you mean --functions?"),
    (["--plo", "x.svg"], "memprof: unknown option --plo: did you mean --plot?"),
    (["--xyzzy"], "memprof: unknown option --xyzzy (memprof --help lists the options)"),
    (["--peak=1"], "memprof: --peak takes no value"),
    (["--aggregate", "--top", "3"], "memprof: --top needs per-line events, which --aggregate "
                                    "does not write"),
    (["--aggregate", "--mode", "exact"], "memprof: --mode exact needs per-line events"),
])
def test_bad_option_stops_before_the_program(prog, args, message):
    out = launch([*args, "prog.py"], prog)
    assert out.returncode == 2, out
    assert out.stderr.startswith(message), out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr      # one line, no help dump
    assert out.stdout == ""
    assert left_behind(prog) == [], "the program ran or a trace was left"


@pytest.mark.parametrize("option, arg", [("--plot", "FILE"), ("--top", "N"),
                                         ("-o", "TRACE"), ("--files", "PATTERNS")])
def test_option_missing_its_value(prog, option, arg):
    out = launch([option], prog)
    assert out.returncode == 2
    name = "--output" if option == "-o" else option
    assert out.stderr.startswith("memprof: %s needs %s (e.g. " % (name, arg)), out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_good_options_with_equals_run(prog):
    out = launch(["--precision=1", "--mode=exact", "-o", "t.jsonl", "prog.py"], prog)
    assert out.returncode == 0, out.stderr
    assert "Filename: prog.py" in out.stdout
    assert (prog / "ran").exists() and (prog / "t.jsonl").exists()


def test_missing_script_or_command(prog):
    out = launch(["scrpt.py"], prog)
    assert out.returncode == 2
    assert out.stderr == "memprof: scrpt.py: no such script (nothing was run)\n"
    out = launch(["python3", "scrpt.py"], prog)
    assert out.returncode == 2 and "scrpt.py: no such script" in out.stderr
    out = launch(["no-such-command-here", "x"], prog)
    assert out.returncode == 127
    assert "cannot run no-such-command-here: command not found" in out.stderr
    assert left_behind(prog) == []


def test_nothing_profiled_leaves_nothing(prog):
    out = launch(["plain.py"], prog)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ("memprof: no @profile function ran: add @profile, or select code "
                          "with --files/--functions\n")
    assert left_behind(prog) == ["ran"]
    # Asked for: the timeline is kept, and drawn.
    (prog / "ran").unlink()
    out = launch(["-o", "kept.jsonl", "plain.py"], prog)
    assert out.returncode == 0 and "no @profile function ran" in out.stderr
    assert left_behind(prog) == ["kept.jsonl", "ran"]
    out = launch(["--plot", "m.svg", "-o", "k2.jsonl", "plain.py"], prog)
    assert out.returncode == 0, out.stderr
    assert "<polyline" in (prog / "m.svg").read_text()


def test_patterns_that_match_nothing_are_named(prog):
    (prog / "lib").mkdir()
    (prog / "lib" / "helper.py").write_text("def g():\n    return 1\n")
    (prog / "main.py").write_text("import sys; sys.path.insert(0, 'lib')\nimport helper\n"
                                  "def f():\n    return helper.g()\nf()\n")
    out = launch(["--files", "main.py,nomatch*.py", "--functions", "f,zzz*", "-n", "main.py"],
                 prog)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert "memprof: --files pattern 'nomatch*.py' matched no file that ran" in lines
    assert "memprof: --functions pattern 'zzz*' matched no function that ran" in lines
    assert not any("'main.py'" in l or "pattern 'f'" in l for l in lines), lines
    assert "no @profile function ran" not in out.stderr
    # A pattern that also reaches the standard library says so, once.
    out = launch(["--files", "*.py", "-n", "-f", "-o", "t.jsonl", "main.py"], prog)
    outside = [l for l in out.stderr.splitlines() if "also matched" in l]
    assert len(outside) == 1, out.stderr
    assert outside[0].startswith("memprof: --files pattern '*.py' also matched ")
    assert "outside %s" % prog in outside[0] and "/usr/lib/python3" in outside[0]
    assert "helper.py" not in outside[0]


@pytest.fixture
def open_dir():
    # pytest's tmp_path is private to root; nobody must reach this one.
    d = Path(tempfile.mkdtemp(prefix="memprof-ro-"))
    os.chmod(d, 0o755)
    yield d
    for sub in d.iterdir():
        os.chmod(sub, 0o755)
    shutil.rmtree(d)


def test_read_only_directory_puts_the_trace_in_tmpdir(open_dir):
    tmp_path = open_dir
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "prog.py").write_text(PROFILED.replace('open("ran", "w").close()\n', ""))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o777)
    os.chmod(ro, 0o555)
    e = env()
    e["TMPDIR"] = str(tmp)
    # Root writes anywhere: the test runs the launcher as nobody.
    kw = {"preexec_fn": lambda: (os.setgid(65534), os.setuid(65534))} if os.geteuid() == 0 else {}
    closed = unreachable_by_others(LAUNCHER, ro) if kw else None
    if closed:
        pytest.skip("SKIPPED LOUDLY: memprof e2e: nobody cannot reach %s (mode %o)"
                    % (closed, os.stat(closed).st_mode & 0o777))
    out = launch(["prog.py"], ro, env=e, **kw)
    assert out.returncode == 0, out.stderr
    assert "Filename: prog.py" in out.stdout
    traces = list(tmp.glob("memprof.*.jsonl"))
    assert len(traces) == 1
    assert out.stderr.splitlines()[0] == ("memprof: the current directory is not writable: "
                                          "the trace goes to %s" % traces[0])
    assert sorted(os.listdir(ro)) == ["prog.py"]


# ---- --include-children / --multiprocess: the tree sampled from outside ----

DD = "dd if=/dev/zero of=/dev/null bs=64M count=30 2>/dev/null; sleep 0.2"


def tree_records(trace):
    import json
    return [json.loads(line) for line in Path(trace).read_text().splitlines()
            if line.startswith('{"k":"tree')]


def memory_profilers_view(command):
    """memory_profiler 0.61's memory_usage of the same command, with
    include_children (the total) and multiprocess (each child): (highest
    total MiB, highest child MiB)."""
    code = ("import subprocess, sys\n"
            "from memory_profiler import memory_usage\n"
            "p = subprocess.Popen(sys.argv[1:])\n"
            "total = memory_usage(p, interval=.01, include_children=True)\n"
            "p = subprocess.Popen(sys.argv[1:])\n"
            "each = memory_usage(p, interval=.01, multiprocess=True)\n"
            "print(max(total), max(max(s[1:] or [0]) for s in each))\n")
    r = subprocess.run([PYTHON, "-c", code, *command], env=env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return tuple(map(float, r.stdout.split()))


def test_include_children_samples_a_command_that_is_not_python(tmp_path):
    # No Python anywhere: no agent writes, the launcher's samples are the
    # trace (asked for by -o), and they agree with memory_profiler's.
    command = ["sh", "-c", DD]
    r = launch(["--include-children", "-o", "t.jsonl", "--plot", "p.svg", *command], tmp_path)
    assert r.returncode == 0, r.stderr
    records = tree_records(tmp_path / "t.jsonl")
    head, samples = records[0], [x for x in records if x["k"] == "tree_sample"]
    assert head["k"] == "tree" and head["interval_ns"] == 10 ** 7 and not head["per_process"]
    assert len(samples) >= 20 and all("procs" not in x for x in samples)
    assert not [x for x in records if x["k"] == "tree_proc"]
    assert [x["t_ns"] for x in samples] == sorted(x["t_ns"] for x in samples)
    ours = max(x["rss"] for x in samples) / 1048576
    theirs, _ = memory_profilers_view(command)
    assert 64 < ours < 90 and abs(ours - theirs) < 8, (ours, theirs)
    svg = (tmp_path / "p.svg").read_text()
    assert 'class="tree-total"' in svg and "process tree total" in svg
    assert 'class="tree-process"' not in svg
    # The JSON report has it too, as its schema says.
    import json
    jsonschema = pytest.importorskip("jsonschema")
    out = subprocess.run([str(ROOT / "build" / "memprof-report"), "--format", "json", "t.jsonl"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    jsonschema.validate(report, json.loads((ROOT / "docs" / "report-json-schema.json").read_text()))
    tree = report["process_tree"]
    assert report["processes"] == [] and tree["samples"] == len(samples)
    assert tree["peak_mib"] == ours and tree["processes"] == []


def test_multiprocess_one_line_per_process(tmp_path):
    # A profiled Python parent running a shell that runs dd: dd is named,
    # drawn on its own, and its highest RSS is memory_profiler's.
    (tmp_path / "parent.py").write_text(
        "import subprocess\n@profile\ndef main():\n    a = [0] * (4 * 10 ** 6)\n"
        "    subprocess.run(['sh', '-c', %r])\n    return len(a)\nmain()\n" % DD)
    r = launch(["--multiprocess", "--interval", "20ms", "-o", "t.jsonl", "--plot", "p.svg",
                "parent.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Filename: parent.py" in r.stdout
    records = tree_records(tmp_path / "t.jsonl")
    assert records[0]["interval_ns"] == 2 * 10 ** 7 and records[0]["per_process"]
    dd = [x for x in records if x["k"] == "tree_proc" and x["command"].startswith("dd ")]
    assert len(dd) == 1, records
    pid = dd[0]["pid"]
    samples = [x for x in records if x["k"] == "tree_sample"]
    dd_max = max(rss for x in samples for p, rss in x["procs"] if p == pid) / 1048576
    total_max = max(x["rss"] for x in samples) / 1048576
    _, theirs = memory_profilers_view(["sh", "-c", DD])
    assert 64 < dd_max < 72 and abs(dd_max - theirs) < 4, (dd_max, theirs)
    assert total_max > dd_max + 30          # the parent's 30 MiB list is in the total
    svg = (tmp_path / "p.svg").read_text()
    assert '<g class="tree-process"><title>pid %d</title>' % pid in svg
    assert "pid %d (from outside): dd if=/dev/zero" % pid in svg


def test_tree_options_need_an_interval(prog):
    r = launch(["--include-children", "--interval", "off", "prog.py"], prog)
    assert r.returncode == 2 and not (prog / "ran").exists()
    assert r.stderr == ("memprof: --include-children and --multiprocess sample every --interval: "
                        "give a duration (e.g. --interval 10ms), not off\n")
