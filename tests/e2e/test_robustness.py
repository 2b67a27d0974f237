"""Robustness of the agent (issue "Nothing lost, nothing broken"): programs
run with libmemprof.so preloaded behave exactly as without it, whatever they
are and however they end; hostile file names and broken outputs do not leak
into the program or the report; a trace cut short by SIGKILL or by running
out of memory still reads and keeps what was flushed.

Fast (a few seconds in all); part of `make test` through test-e2e.  Tests
that show a gap the issue asks to close are xfail with the reason.  The
random SIGKILL test prints its seed; rerun it with MEMPROF_KILL_SEED=N.
"""
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import trace_format

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
AGENT = BUILD / "libmemprof.so"
REPORT = BUILD / "memprof-report"
PY = "/usr/bin/python3.11"

if not AGENT.exists() or not REPORT.exists():
    pytest.skip("build/libmemprof.so or build/memprof-report is missing: run `make` first",
                allow_module_level=True)


def plain_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMPROF_") and k != "LD_PRELOAD"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def agent_env(trace=None, **extra):
    env = plain_env(**extra)
    env["LD_PRELOAD"] = str(AGENT)
    if trace is not None:
        env["MEMPROF_OUTPUT"] = str(trace)
    return env


def run(cmd, cwd, env, timeout=60, **kw):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout, **kw)


def write(path, source):
    Path(path).write_text(textwrap.dedent(source))
    return Path(path)


def profile_shim(tmp_path):
    """A directory for PYTHONPATH whose sitecustomize defines `profile` as
    the identity: the plain run of a script then needs no change, so both
    runs execute the same source with the same line numbers."""
    d = tmp_path / "plain-site"
    d.mkdir(exist_ok=True)
    (d / "sitecustomize.py").write_text("import builtins\nbuiltins.profile = lambda f: f\n")
    return d


def both(tmp_path, name, source, args=(), **kw):
    """Runs SOURCE once plainly and once under the agent, in the same
    directory (so that paths in tracebacks agree); returns (plain, traced,
    trace).  The trace goes next to the directory, not in it."""
    d = tmp_path / "w"
    d.mkdir(exist_ok=True)
    write(d / name, source)
    plain = run([PY, name, *args], d, plain_env(PYTHONPATH=profile_shim(tmp_path)), **kw)
    trace = tmp_path / "trace.jsonl"
    traced = run([PY, name, *args], d, agent_env(trace), **kw)
    return plain, traced, trace


def same(plain, traced):
    assert traced.returncode == plain.returncode, (plain, traced)
    assert traced.stdout == plain.stdout
    assert traced.stderr == plain.stderr


def report(trace, *args, check=True):
    out = subprocess.run([str(REPORT), *args, str(trace)], capture_output=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def events(trace):
    """All records of a trace, in order, events in format 1's terms; every
    line must be JSON."""
    return trace_format.read_trace(trace)


def snapshot(d):
    """{relative path: (mode bits, bytes or symlink target)} of a tree."""
    out = {}
    for p in sorted(Path(d).rglob("*")):
        rel = str(p.relative_to(d))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_file():
            out[rel] = (stat.S_IMODE(p.stat().st_mode), p.read_bytes())
        else:
            out[rel] = ("dir",)
    return out


# ---- non-Python programs: identical behaviour, no files ----

C_HELLO = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 3; }\n"

NON_PYTHON = {
    "bash": (["bash", "-c", "echo out; echo err >&2; mkdir d; printf x > d/f; "
              "( exit 4 ); echo $?; ls -la d | wc -l; exit 5"], None),
    "make": (["make", "-s", "all"], ("Makefile", "all:\n\t@echo built > made.txt\n\t@cat made.txt\n"
                                     "\t@echo to-stderr >&2\n")),
    "gcc": (["sh", "-c", "cc -O0 -o hello hello.c && ./hello; echo status=$?"],
            ("hello.c", C_HELLO)),
    "git": (["sh", "-c", "git init -q . && git -c user.email=a@b -c user.name=n commit -q "
             "--allow-empty -m m && echo x > new.txt && git status --porcelain && "
             "git status --short --branch | tail -1"], None),
}


@pytest.mark.parametrize("name", sorted(NON_PYTHON))
def test_non_python_program_identical(name, tmp_path):
    cmd, setup = NON_PYTHON[name]
    tool = "cc" if name == "gcc" else name
    if not shutil.which(tool):
        pytest.skip("SKIPPED LOUDLY: memprof e2e: %s is not installed" % tool)
    outs, trees = [], []
    for mode in ("plain", "agent"):
        d = tmp_path / mode
        d.mkdir()
        if setup:
            (d / setup[0]).write_text(setup[1])
        env = plain_env() if mode == "plain" else agent_env()
        # git embeds no path or time in --porcelain output; HOME keeps
        # the user's config out.
        # The commit's time is fixed: the commit object's name (a file
        # name under .git/objects) is the hash of its contents.
        env.update(HOME=str(d), GIT_CONFIG_NOSYSTEM="1", LC_ALL="C",
                   GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
                   GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
        outs.append(run(cmd, d, env))
        trees.append(snapshot(d))
    same(outs[0], outs[1])
    if name == "git":       # object files are compressed: compare names only
        trees = [sorted(t) for t in trees]
    assert trees[0] == trees[1], "the agent changed or added files"


# ---- another tracer in the program ----

# The agent's own Python code (preload/*.py, compiled as "<memprof>");
# frames there are a separate, known difference (see the xfail below).
AGENT_FILES = ("<memprof>",)

TRACER = """
import sys
counts = {}
IGNORE = %r
def tracer(frame, event, arg):
    if event == "line" and frame.f_code.co_filename not in IGNORE:
        key = (frame.f_code.co_name, frame.f_lineno)
        counts[key] = counts.get(key, 0) + 1
    return tracer

@profile
def profiled(n):
    s = 0
    for i in range(n):
        s += i
    return s

def plain(n):
    return [i * 2 for i in range(n)]

def summary():
    return sorted((k[0], k[1] - FIRST, v) for k, v in counts.items())

FIRST = sys._getframe().f_lineno
%s
print(summary())
"""


@pytest.mark.parametrize("where", ["before", "inside"])
def test_own_trace_function_keeps_working(where, tmp_path):
    """A Python tracer set before a profiled call, or set by the profiled
    function itself, sees the same lines with and without the agent."""
    if where == "before":
        body = "sys.settrace(tracer)\nprofiled(5); plain(3)\nsys.settrace(None)"
    else:
        body = textwrap.dedent("""
            @profile
            def installs():
                sys.settrace(tracer)
                return 1
            installs()
            profiled(5); plain(3)
            sys.settrace(None)""")
    plain, traced, trace = both(tmp_path, "tr.py", TRACER % (AGENT_FILES, body))
    assert plain.returncode == 0, plain.stderr
    assert b"profiled" in plain.stdout and b"plain" in plain.stdout, plain.stdout
    same(plain, traced)


@pytest.mark.xfail(strict=True, reason="BUG: a program's own sys.settrace tracer (and coverage) "
                   "sees the agent's wrapper frames, co_filename '<memprof>' "
                   "(preload/profile_impl.py wrapper()), which do not exist without the agent")
def test_own_trace_function_sees_no_agent_frames(tmp_path):
    body = "sys.settrace(tracer)\nprofiled(5); plain(3)\nsys.settrace(None)"
    plain, traced, trace = both(tmp_path, "tr.py", TRACER % ((), body))
    assert plain.returncode == 0, plain.stderr
    same(plain, traced)


def test_threading_settrace_keeps_working(tmp_path):
    src = TRACER % (AGENT_FILES, textwrap.dedent("""
        import threading
        threading.settrace(tracer)
        t = threading.Thread(target=lambda: (profiled(4), plain(2)))
        t.start(); t.join()"""))
    plain, traced, _ = both(tmp_path, "tt.py", src)
    assert plain.returncode == 0, plain.stderr
    same(plain, traced)


def test_coverage_results_unchanged(tmp_path):
    has = subprocess.run([PY, "-m", "coverage", "--version"], capture_output=True).returncode == 0
    if not has:
        pytest.skip("SKIPPED LOUDLY: memprof e2e: Debian's python3-coverage is not installed "
                    "(scripts/setup-debian.sh test-real installs it)")
    src = """
        import sys
        @profile
        def f(n):
            total = 0
            for i in range(n):
                if i % 2:
                    total += i
            return total
        def g(x):
            if x > 100:
                return "big"
            return "small"
        print(f(10), g(3))
    """
    outs = []
    d = tmp_path / "w"
    d.mkdir()
    write(d / "cov.py", src)
    for mode in ("plain", "agent"):
        env = plain_env(PYTHONPATH=profile_shim(tmp_path)) if mode == "plain" \
            else agent_env(tmp_path / "trace.jsonl")
        r1 = run([PY, "-m", "coverage", "run", "--branch", "cov.py"], d, env)
        r2 = run([PY, "-m", "coverage", "report", "-m", "--include=cov.py"], d, plain_env())
        outs.append((r1.returncode, r1.stdout, r1.stderr, r2.stdout))
    assert outs[0][0] == 0, outs[0]
    assert outs[0] == outs[1]


# ---- exit paths: the agent never writes to stdout, never changes status ----

EXITS = {
    "sys.exit": ("import sys\nsys.exit(3)", 3),
    "os._exit": ("import os, sys\nsys.stdout.flush()\nos._exit(4)", 4),
    "exception": ("raise ValueError('boom')", 1),
    "exception-inside-profiled": ("@profile\ndef bad():\n    raise ValueError('inner')\n"
                                  "try:\n    bad()\nexcept ValueError as e:\n    print(e)\n"
                                  "raise SystemExit(8)", 8),
    "keyboardinterrupt": ("raise KeyboardInterrupt", -signal.SIGINT),
    "sigterm-handler": ("import os, signal, sys\n"
                        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(5))\n"
                        "os.kill(os.getpid(), signal.SIGTERM)\nwhile True: pass", 5),
    "sigterm-default": ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n"
                        "import time; time.sleep(5)", -signal.SIGTERM),
    "exit-inside-profiled": ("@profile\ndef bye():\n    import sys\n    sys.exit(6)\nbye()", 6),
    "os._exit-inside-profiled": ("@profile\ndef bye():\n    import os\n    os._exit(7)\nbye()", 7),
    "normal": ("pass", 0),
}


@pytest.mark.parametrize("how", sorted(EXITS))
def test_exit_paths(how, tmp_path):
    tail, status = EXITS[how]
    src = "@profile\ndef work(n):\n    a = [0] * n\n    return len(a)\n" \
          "print(work(1000), flush=True)\n" + tail + "\n"
    plain, traced, trace = both(tmp_path, "exit.py", src)
    assert plain.returncode == status, plain.stderr
    same(plain, traced)
    assert trace.exists()
    out = report(trace, check=False)
    assert out.returncode == 0, out.stderr
    assert b"a = [0] * n" in out.stdout


@pytest.mark.xfail(strict=True, reason="BUG: a traceback through a profiled function shows an "
                   "extra frame 'File \"<memprof>\", line N, in wrapper' "
                   "(preload/profile_impl.py wrapper()), so the program's stderr changes")
def test_traceback_through_profiled_function_unchanged(tmp_path):
    src = "@profile\ndef bad():\n    raise ValueError('inner')\nbad()\n"
    plain, traced, _ = both(tmp_path, "tb.py", src)
    assert plain.returncode == 1
    same(plain, traced)


def test_descriptors_unchanged_without_profile(tmp_path):
    # The agent's own descriptors (the trace, /proc/self/statm) live at 1000
    # and above, close-on-exec: the numbers a program expects free are free.
    src = "import os\nprint(sorted(int(f) for f in os.listdir('/proc/self/fd') if int(f) < 1000))\n"
    plain, traced, _ = both(tmp_path, "fds.py", src)
    assert plain.returncode == 0, plain.stderr
    same(plain, traced)


@pytest.mark.parametrize("var", ["MEMPROF_FILES", "MEMPROF_FUNCTIONS"])
def test_selection_imports_nothing(var, tmp_path):
    """The program sees the same sys.modules at start with or without the
    agent, with a selection that matches nothing."""
    readme = (ROOT / "README.rst").read_text(errors="replace")
    if var not in readme:
        pytest.skip("SKIPPED LOUDLY: memprof e2e: %s is not in README.rst yet" % var)
    code = "import sys; print(sorted(sys.modules))"
    plain = run([PY, "-I", "-c", code], tmp_path, plain_env())
    traced = run([PY, "-I", "-c", code], tmp_path,
                 agent_env(tmp_path / "t.jsonl", **{var: "nothing-matches-this"}))
    assert plain.returncode == 0
    extra = sorted(set(eval(traced.stdout)) - set(eval(plain.stdout)))
    assert extra == [], "modules imported by the agent: %s" % extra
    same(plain, traced)


# ---- set-user-ID programs ignore the agent ----

SUID_C = r"""
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
int main(void)
{
    char line[4096];
    int mapped = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "libmemprof"))
            mapped = 1;
    printf("secure=%lu mapped=%d\n", getauxval(AT_SECURE), mapped);
    return 0;
}
"""


def test_setuid_program_ignores_agent(tmp_path):
    """ld.so drops LD_PRELOAD entries with a slash for AT_SECURE programs;
    the test runs a set-user-ID copy as `nobody` and a plain copy as control."""
    cc = shutil.which("cc")
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not cc or not setpriv:
        pytest.skip("SKIPPED LOUDLY: memprof e2e: the set-user-ID test needs root (to make a "
                    "root-owned set-user-ID file and run it as nobody), cc and setpriv")
    d = Path(tempfile.mkdtemp(prefix="memprof-suid-"))
    try:
        os.chmod(d, 0o755)
        (d / "p.c").write_text(SUID_C)
        subprocess.run([cc, "-o", str(d / "plain"), str(d / "p.c")], check=True)
        shutil.copy(d / "plain", d / "suid")
        os.chmod(d / "suid", 0o4755)
        nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        env = agent_env(MEMPROF_SESSION="1")
        control = run(nobody + [str(d / "plain")], d, env)
        if b"mapped=1" not in control.stdout:
            pytest.skip("SKIPPED LOUDLY: memprof e2e: nobody cannot load %s (path not "
                        "readable?): %r" % (AGENT, control))
        got = run(nobody + [str(d / "suid")], d, env)
        if b"secure=0" in got.stdout:
            pytest.skip("SKIPPED LOUDLY: memprof e2e: set-user-ID bit ignored here "
                        "(nosuid mount or no_new_privs): %r" % got.stdout)
        assert got.returncode == 0 and got.stdout == b"secure=1 mapped=0\n", got
        assert got.stderr == b"" or b"libmemprof" in got.stderr, got.stderr
    finally:
        shutil.rmtree(d)


# ---- hostile file names and source lines ----

WEIRD_NAME = b'we"ird\\\na\x1b[31mme\xff.py'
WEIRD_SOURCE = (b"@profile\n"
                b"def f():\n"
                b"    x = 'bell\x07 esc\x1b[2J del\x7f'\n"
                b"    \x0c\n"
                b"    y = [0] * 1000  # \x1b]0;title\x07\x7f\n"
                b"    return len(x) + len(y)\n"
                b"print(f())\n")


def is_safe(text):
    return not [c for c in text if (c < 0x20 and c not in (0x0a, 0x09)) or c == 0x7f]


@pytest.fixture
def weird_run(tmp_path):
    d = os.fsencode(tmp_path)
    script = os.path.join(d, WEIRD_NAME)
    with open(script, "wb") as f:
        f.write(WEIRD_SOURCE)
    trace = tmp_path / "weird.jsonl"
    out = run([PY, script], tmp_path, agent_env(trace))
    plain = run([PY, "-c", "import builtins; builtins.profile = lambda f: f\n"
                 "import sys; sys.argv = [sys.argv[1]]\n"
                 "exec(compile(open(sys.argv[0], 'rb').read(), sys.argv[0], 'exec'))",
                 script], tmp_path, plain_env())
    assert (out.returncode, out.stdout) == (plain.returncode, plain.stdout) == (0, b"1018\n"), \
        (out, plain)
    return script, trace


def test_weird_name_trace_is_valid_json(weird_run):
    script, trace = weird_run
    raw = trace.read_bytes()
    assert raw.endswith(b"\n")
    recs = events(trace)            # every line json.loads
    raw.decode("utf-8")             # and the file is UTF-8
    files = [r for r in recs if isinstance(r, dict) and r.get("k") == "file"]
    assert files, recs[:5]
    f = files[0]
    assert "\ufffd" in f["path"]
    exact = bytes.fromhex(f["path_hex"]) if "path_hex" in f else f["path"].encode()
    assert exact.endswith(WEIRD_NAME), (f, exact)
    abs_exact = bytes.fromhex(f["abspath_hex"]) if "abspath_hex" in f else f["abspath"].encode()
    assert abs_exact == script
    hdr = recs[0]
    assert hdr["k"] == "memprof"


def test_weird_name_report_prints_rows(weird_run):
    _, trace = weird_run
    out = report(trace)
    assert out.stdout.count(b"Filename: ") == 1
    rows = [l for l in out.stdout.splitlines() if b" MiB " in l]
    assert len(rows) == 4, out.stdout        # decorator, x =, y =, return


def test_weird_name_report_finds_the_source(weird_run):
    _, trace = weird_run
    out = report(trace)
    assert b"y = [0] * 1000" in out.stdout, out.stderr


def test_weird_name_report_prints_safely(weird_run):
    _, trace = weird_run
    out = report(trace)
    assert is_safe(out.stdout), out.stdout
    assert is_safe(out.stderr), out.stderr


def test_weird_name_json_round_trips(weird_run):
    script, trace = weird_run
    out = report(trace, "--format", "json", check=False)
    if out.returncode == 2 and b"format" in out.stderr:
        pytest.xfail("memprof-report --format json is not there yet: %r" % out.stderr[:200])
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    text = json.dumps(doc)
    assert "\\u001b" in text.lower() or "\x1b" not in text
    # The exact name must be recoverable from the JSON (as UTF-8 text, or
    # as hex where it is not valid UTF-8).
    names = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, str) and "hex" in k:
                    try:
                        names.append(bytes.fromhex(x))
                    except ValueError:
                        pass
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            names.append(v.encode("utf-8", "surrogateescape"))
    walk(doc)
    assert any(n.endswith(WEIRD_NAME) for n in names), names[:20]


# ---- the output file ----

OK_PROG = """
@profile
def f():
    return [0] * 10
for _ in range(3):
    f()
print("ok")
"""


def test_output_mode_0600_whatever_the_umask(tmp_path):
    write(tmp_path / "ok.py", OK_PROG)
    trace = tmp_path / "t.jsonl"
    out = subprocess.run([PY, "ok.py"], cwd=tmp_path, env=agent_env(trace), capture_output=True,
                         preexec_fn=lambda: os.umask(0))
    assert (out.returncode, out.stdout, out.stderr) == (0, b"ok\n", b"")
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


def test_dangling_symlink_not_followed(tmp_path):
    """O_NOFOLLOW|O_EXCL: a symlink planted at the path, even to a file that
    does not exist yet, is neither followed nor replaced."""
    write(tmp_path / "ok.py", OK_PROG)
    target = tmp_path / "created-through-link"
    (tmp_path / "t.jsonl").symlink_to(target)
    out = run([PY, "ok.py"], tmp_path, agent_env(tmp_path / "t.jsonl"))
    assert (out.returncode, out.stdout) == (0, b"ok\n")
    assert out.stderr.startswith(b"memprof: warning: ") and out.stderr.count(b"\n") == 1
    assert not target.exists()
    assert os.path.islink(tmp_path / "t.jsonl")


# Enough records to fill the 64 KiB buffer many times: the agent must warn
# once, not once per write.
MANY_PROG = """
@profile
def f(n):
    s = 0
    for i in range(n):
        s += i
    return s
for _ in range(200):
    f(100)
print("ok")
"""


def one_warning(out):
    assert (out.returncode, out.stdout) == (0, b"ok\n"), out
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(b"memprof: warning: "), out.stderr


def test_full_disk_warns_once(tmp_path):
    write(tmp_path / "many.py", MANY_PROG)
    with open("/dev/full", "wb") as full:
        out = run([PY, "many.py"], tmp_path, agent_env(MEMPROF_FD=full.fileno()),
                  pass_fds=(full.fileno(),))
    one_warning(out)
    assert b"No space left" in out.stderr or b"ENOSPC" in out.stderr, out.stderr


def test_eio_warns_once(tmp_path):
    """EIO without FUSE: writing to a pseudo-terminal whose master side is
    closed fails with EIO."""
    write(tmp_path / "many.py", MANY_PROG)
    master, slave = os.openpty()
    os.close(master)
    try:
        try:
            os.write(slave, b"x")
            pytest.skip("SKIPPED LOUDLY: memprof e2e: a pty without master does not give EIO here")
        except OSError:
            pass
        out = run([PY, "many.py"], tmp_path, agent_env(MEMPROF_FD=slave), pass_fds=(slave,))
    finally:
        os.close(slave)
    one_warning(out)
    assert b"Input/output error" in out.stderr, out.stderr


def test_closed_pipe_warns_once(tmp_path):
    write(tmp_path / "many.py", MANY_PROG)
    r, w = os.pipe()
    os.close(r)
    try:
        out = run([PY, "many.py"], tmp_path, agent_env(MEMPROF_FD=w), pass_fds=(w,))
    finally:
        os.close(w)
    one_warning(out)


def test_closed_pipe_with_default_sigpipe(tmp_path):
    """A program that restores SIGPIPE's default action (as many command-line
    tools do) must not be killed by the agent's write to a closed pipe
    (it was, exit -13, until collector/writer.c blocked SIGPIPE)."""
    write(tmp_path / "sp.py", "import signal\nsignal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
          + MANY_PROG)
    r, w = os.pipe()
    os.close(r)
    try:
        out = run([PY, "sp.py"], tmp_path, agent_env(MEMPROF_FD=w), pass_fds=(w,))
    finally:
        os.close(w)
    one_warning(out)


# ---- SIGKILL at random moments ----

KILLED = """
import os, sys
side = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

@profile
def step(i):
    a = [i] * 1000
    b = len(a)
    return b

i = 0
while True:
    step(i)
    i += 1
    os.write(side, b"%d\\n" % i)     # step(i) has returned: its records are out
"""


def kill_seed():
    seed = int(os.environ.get("MEMPROF_KILL_SEED", "0")) or 20261125
    print("memprof SIGKILL tests: seed %d (set MEMPROF_KILL_SEED to change)" % seed)
    return seed


def completed(side):
    lines = side.read_bytes().split(b"\n") if side.exists() else []
    done = [int(x) for x in lines if x]
    return done[-1] if done else 0


def step_counts(trace):
    """Per section: how many step() calls returned, by the return events of
    the registered code at its first line-range; plus the report's verdict."""
    recs = events_tolerant(trace)
    codes = {}
    returns = 0
    lines = {}
    for r in recs:
        if isinstance(r, dict) and r.get("k") == "code":
            codes[r["id"]] = r.get("qualname")
        elif isinstance(r, list) and r and r[0] in (0, 2) and codes.get(r[1]) == "step":
            if r[0] == 2:
                returns += 1
            else:
                lines[r[2]] = lines.get(r[2], 0) + 1
    return returns, lines


def events_tolerant(trace):
    """Like events(), but a cut-off last line (no newline) is dropped, and so
    is a record a kill cut short inside the mapped file (it is followed by
    the padding's spaces and closing '"}', README "The trace format")."""
    raw = Path(trace).read_bytes()
    body = raw if raw.endswith(b"\n") else raw[:raw.rfind(b"\n") + 1]
    kept = []
    for x in body.split(b"\n"):
        if not x:
            continue
        try:
            json.loads(x)
            kept.append(x.decode("utf-8"))
        except ValueError:
            assert x.endswith(b' "}'), x[:200]
    return list(trace_format.records(kept))


def test_sigkill_at_random_points_keeps_completed_calls(tmp_path):
    rng = random.Random(kill_seed())
    write(tmp_path / "killed.py", textwrap.dedent(KILLED))
    runs = 25
    empty = 0
    for n in range(runs):
        trace = tmp_path / ("t%d.jsonl" % n)
        side = tmp_path / ("side%d" % n)
        proc = subprocess.Popen([PY, "killed.py", str(side)], cwd=tmp_path,
                                env=agent_env(trace), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        delay = rng.uniform(0.0, 0.25)
        time.sleep(delay)
        proc.kill()
        _, err = proc.communicate(timeout=30)
        assert err == b"", err
        done = completed(side)
        if not trace.exists() or trace.stat().st_size == 0:
            # Killed before the agent wrote anything: nothing to keep.
            assert done == 0, (n, delay, done)
            empty += 1
            continue
        out = report(trace, check=False)
        assert out.returncode == 0, (n, delay, out.stderr)
        warnings = [l for l in out.stderr.splitlines() if l]
        assert all(b"truncated last record" in l or b"truncated record" in l for l in warnings), (n, delay, out.stderr)
        returns, lines = step_counts(trace)
        # Every call that returned before the side file said so is in the trace.
        assert returns >= done, (n, delay, returns, done)
        body = sorted(lines)[-3:]
        for ln in body:
            assert lines[ln] >= done, (n, delay, ln, lines, done)
    print("%d of %d runs killed before the first flush" % (empty, runs))
    assert empty < runs, "no run lived long enough to test anything"


def test_killed_before_first_flush_trace_reads(tmp_path):
    """Killed inside the first profiled call, before any flush (an empty
    file was refused with exit 2 until the agent wrote its header at once)."""
    write(tmp_path / "k.py", "import os, signal\n@profile\ndef f():\n"
          "    os.kill(os.getpid(), signal.SIGKILL)\nf()\n")
    trace = tmp_path / "t.jsonl"
    out = run([PY, "k.py"], tmp_path, agent_env(trace))
    assert out.returncode == -signal.SIGKILL
    assert trace.exists()
    assert report(trace, check=False).returncode == 0


def test_killed_python_without_profile_leaves_a_readable_trace(tmp_path):
    # The header is written at start-up (README, Guarantees): a process
    # killed before it profiles anything leaves a trace the report reads,
    # with no tables; one that exits normally with nothing recorded and no
    # sampling leaves no file.
    out = run([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
              tmp_path, agent_env(MEMPROF_INTERVAL="off"))
    assert out.returncode == -signal.SIGKILL
    traces = list(tmp_path.iterdir())
    assert len(traces) == 1
    rep = report(traces[0])
    assert rep.stdout == b"" and rep.stderr == b""
    traces[0].unlink()
    out = run([PY, "-c", "pass"], tmp_path, agent_env(MEMPROF_INTERVAL="off"))
    assert out.returncode == 0 and list(tmp_path.iterdir()) == []


STRONG = """
import os, sys
side = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

@profile
def forever():
    i = 0
    while True:
        i += 1
        os.write(side, b"%d\\n" % i)

forever()
"""


def test_sigkill_keeps_every_executed_line(tmp_path):
    rng = random.Random(kill_seed() + 1)
    write(tmp_path / "strong.py", textwrap.dedent(STRONG))
    for n in range(5):
        trace = tmp_path / ("s%d.jsonl" % n)
        side = tmp_path / ("sside%d" % n)
        proc = subprocess.Popen([PY, "strong.py", str(side)], cwd=tmp_path, env=agent_env(trace),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Killed at a random moment once the loop runs: on a loaded machine
        # the start alone can take longer than a fixed delay.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and completed(side) == 0 and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.2))
        proc.kill()
        proc.wait(timeout=30)
        done = completed(side)
        assert done > 0
        assert trace.exists(), "nothing of %d completed iterations reached the trace" % done
        recs = events_tolerant(trace)
        code = [r["id"] for r in recs if isinstance(r, dict) and r.get("k") == "code"]
        write_line = 1 + [n for n, l in enumerate(textwrap.dedent(STRONG).splitlines())
                          if "os.write(side" in l][0]
        ran = sum(1 for r in recs if isinstance(r, list) and r[0] == 0 and r[1] in code
                  and r[2] == write_line)
        assert ran >= done, (n, ran, done)


# ---- out of memory ----

GROW = """
keep = []

@profile
def grow():
    chunk = bytearray(8 * 1024 * 1024)
    keep.append(chunk)
    return len(keep)

while True:
    grow()
"""


def rss_of_returns(trace):
    recs = events_tolerant(trace)
    return [r[3] for r in recs if isinstance(r, list) and r and r[0] == 2]


def check_growth(trace, limit):
    assert trace.exists()
    out = report(trace, check=False)
    assert out.returncode == 0, out.stderr
    assert b"chunk = bytearray" in out.stdout
    rss = rss_of_returns(trace)
    assert len(rss) >= 5, rss
    tail = rss[-5:]
    assert tail == sorted(tail) and tail[-1] > tail[0], tail
    # The last flushed record is within a few chunks of the limit.
    assert rss[-1] > limit * 0.5, (rss[-1], limit)


def test_out_of_memory_address_space_limit(tmp_path):
    """prlimit --as: allocation fails with MemoryError, the program dies
    with a traceback, the trace shows the growth up to the limit."""
    if not shutil.which("prlimit"):
        pytest.skip("SKIPPED LOUDLY: memprof e2e: prlimit (util-linux) is missing")
    write(tmp_path / "grow.py", textwrap.dedent(GROW))
    trace = tmp_path / "t.jsonl"
    limit = 400 << 20
    out = run(["prlimit", "--as=%d" % limit, PY, "grow.py"], tmp_path, agent_env(trace))
    assert out.returncode == 1 and out.stderr.endswith(b"MemoryError\n"), out
    assert b"memprof: warning" not in out.stderr, out.stderr
    check_growth(trace, limit - (100 << 20))       # the address space is not all RSS


def memory_cgroup():
    base = Path("/sys/fs/cgroup/memory")
    if not (base / "memory.limit_in_bytes").exists():
        return None
    try:
        d = Path(tempfile.mkdtemp(prefix="memprof-oom-", dir=base))
    except OSError:
        return None
    return d


def test_out_of_memory_killed_by_cgroup(tmp_path):
    """A cgroup v1 memory limit: the kernel's OOM killer sends SIGKILL; the
    trace still reads and its last records show where memory went."""
    cg = memory_cgroup()
    if cg is None:
        pytest.skip("SKIPPED LOUDLY: memprof e2e: no writable cgroup v1 memory controller at "
                    "/sys/fs/cgroup/memory (cgroup v2 or unprivileged): OOM-kill not tested")
    limit = 150 << 20
    try:
        try:
            (cg / "memory.limit_in_bytes").write_text(str(limit))
            if (cg / "memory.memsw.limit_in_bytes").exists():
                (cg / "memory.memsw.limit_in_bytes").write_text(str(limit))
        except OSError as e:
            pytest.skip("SKIPPED LOUDLY: memprof e2e: cannot set a memory limit: %s" % e)
        write(tmp_path / "grow.py", textwrap.dedent(GROW))
        trace = tmp_path / "t.jsonl"
        procs = str(cg / "cgroup.procs")
        out = run(["sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, PY, "grow.py"],
                  tmp_path, agent_env(trace), timeout=120)
        if out.returncode != -signal.SIGKILL:
            pytest.skip("SKIPPED LOUDLY: memprof e2e: the cgroup limit did not OOM-kill "
                        "(swap?): %r" % (out,))
        check_growth(trace, limit)
    finally:
        for _ in range(50):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)
