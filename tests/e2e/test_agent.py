"""End-to-end tests of the agent: getting in, staying invisible, surviving
fork, exec, threads and exits, on every interpreter that is present.

Facts asserted hold on any machine: which rows a table has, Occurrences,
increments of allocations of known size within a tolerance; never the
absolute RSS.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
AGENT = BUILD / "libmemprof.so"
REPORT = BUILD / "memprof-report"
LAUNCHER = BUILD / "memprof"
EXAMPLE = ROOT / "examples" / "example.py"
DEBIAN_PYTHON = "/usr/bin/python3.11"

if not AGENT.exists() or not REPORT.exists():
    pytest.skip("build/libmemprof.so or build/memprof-report is missing: run `make` first",
                allow_module_level=True)


def pyenv_root():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            root = out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return Path(root)


def pyenv_python(minor):
    """The newest pyenv interpreter 3.<minor>.x, or None."""
    versions = pyenv_root() / "versions"
    found = sorted(versions.glob("3.%d.*" % minor),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)])
    for v in reversed(found):
        exe = v / "bin" / "python"
        if exe.exists():
            return str(exe)
    return None


INTERPRETERS = [pytest.param(DEBIAN_PYTHON, id="debian-3.11")] + [
    pytest.param(("pyenv", m), id="pyenv-3.%d" % m) for m in range(8, 14)]


def interpreter(spec):
    if spec == DEBIAN_PYTHON:
        if not os.path.exists(DEBIAN_PYTHON):
            pytest.skip("SKIPPED LOUDLY: Debian's %s is not installed" % DEBIAN_PYTHON)
        return DEBIAN_PYTHON
    exe = pyenv_python(spec[1])
    if exe is None:
        pytest.skip("SKIPPED LOUDLY: no pyenv Python 3.%d under %s" % (spec[1], pyenv_root()))
    return exe


def agent_env(trace=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")}
    env["LD_PRELOAD"] = str(AGENT)
    if trace is not None:
        env["MEMPROF_OUTPUT"] = str(trace)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, cwd, env, timeout=120, **kw):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def report(trace, *args):
    out = subprocess.run([str(REPORT), *args, str(trace)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


ROW = re.compile(r"^ *(\d+) +(-?[\d.]+) MiB +(-?[\d.]+) MiB +(\d+)   ")


def tables(text):
    """Report text -> [(filename, {line: (mem, inc, occurrences) or None}, pid heading)]."""
    result = []
    heading = None
    current = None
    for line in text.splitlines():
        if line.startswith("Process "):
            heading = line
        elif line.startswith("Filename: "):
            current = {}
            result.append((line[len("Filename: "):], current, heading))
        elif current is not None:
            if line[:6].strip().isdigit() and line[6:47].strip() == "":
                current[int(line[:6])] = None       # a row never measured
                continue
            m = ROW.match(line)
            if m:
                current[int(m.group(1))] = (float(m.group(2)), float(m.group(3)),
                                            int(m.group(4)))
    return result


def records(trace):
    """The trace's object records (events, which are arrays, and the
    padding of regions the agent has not filled, left out)."""
    from trace_format import read_trace
    return [r for r in read_trace(trace) if isinstance(r, dict) and r.get("k") != "pad"]


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def check_seed_table(text):
    found = tables(text)
    assert len(found) == 1, text
    rows = found[0][1]
    assert sorted(rows) == [1, 2, 3, 4, 5, 6], text
    assert rows[2] is None, "the def line under a decorator is never measured"
    assert [rows[n][2] for n in (1, 3, 4, 5, 6)] == [1, 1, 1, 1, 1]
    # [2] * (2 * 10**7) is 152.59 MiB of pointers; `del b` gives it back.
    assert abs(rows[4][1] - 152.59) < 2, text
    assert abs(rows[5][1] + 152.59) < 2, text
    assert abs(rows[3][1] - 7.63) < 1, text
    assert rows[1][0] == rows[1][1], "the first line's increment is its usage"


# ---- getting in ----

@pytest.mark.parametrize("spec", INTERPRETERS)
def test_seed_example_on_every_interpreter(spec, tmp_path):
    exe = interpreter(spec)
    shutil.copy(EXAMPLE, tmp_path / "example.py")
    trace = tmp_path / "trace.jsonl"
    out = run([exe, "example.py"], tmp_path, agent_env(trace))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""
    check_seed_table(report(trace))
    recs = records(trace)
    assert recs[0]["k"] == "memprof" and recs[0]["version"] == 2
    assert recs[0]["pid"] > 0 and recs[0]["argv"] == ["example.py"]
    assert any(r["k"] == "end" for r in recs)


def build_embedder(tmp_path):
    """tests/embed/embed.c, a C program that embeds Debian's libpython,
    built into tmp_path; skips loudly without a compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    config = shutil.which("python3-config", path="/usr/bin")
    if not cc or not config:
        pytest.skip("SKIPPED LOUDLY: no C compiler or /usr/bin/python3-config")
    flags = subprocess.run([config, "--cflags"], capture_output=True, text=True).stdout.split()
    libs = subprocess.run([config, "--ldflags", "--embed"], capture_output=True,
                          text=True).stdout.split()
    exe = tmp_path / "embed"
    subprocess.run([cc, "-o", str(exe), str(ROOT / "tests/embed/embed.c"), *flags, *libs],
                   check=True, capture_output=True)
    return exe


def test_embedder(tmp_path):
    exe = build_embedder(tmp_path)
    shutil.copy(EXAMPLE, tmp_path / "example.py")
    trace = tmp_path / "trace.jsonl"
    out = run([str(exe), "example.py"], tmp_path, agent_env(trace))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    check_seed_table(report(trace))


def test_non_python_programs_unchanged(tmp_path):
    for cmd in (["bash", "-c", "echo hi"], ["ls", "/"], ["make", "--version"],
                ["env", "-u", "LD_PRELOAD", "true"], ["git", "--version"], ["cc", "--version"]):
        if not shutil.which(cmd[0]):
            continue
        plain = run(cmd, tmp_path, {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
        traced = run(cmd, tmp_path, agent_env(tmp_path / "t.jsonl"))
        assert (traced.returncode, traced.stdout, traced.stderr) == \
            (plain.returncode, plain.stdout, plain.stderr), cmd
    assert list(tmp_path.iterdir()) == [], "the agent left files in a non-Python process"
    out = run(["bash", "-c", "echo hi"], tmp_path, agent_env())
    assert out.stdout == "hi\n" and out.stderr == ""


def test_python_without_profile_is_sampled_only(tmp_path):
    # Memory over time is recorded whether or not anything is profiled...
    out = run([DEBIAN_PYTHON, "-c", "print(sum(range(10)))"], tmp_path, agent_env())
    assert (out.returncode, out.stdout, out.stderr) == (0, "45\n", "")
    traces = list(tmp_path.iterdir())
    assert len(traces) == 1 and traces[0].name.startswith("memprof.")
    lines = traces[0].read_text().splitlines()
    assert lines[0].startswith('{"k":"memprof"') and any(l.startswith("[3,") for l in lines)
    traces[0].unlink()
    # ... and without sampling nothing at all is left behind.
    out = run([DEBIAN_PYTHON, "-c", "print(sum(range(10)))"], tmp_path,
              agent_env(MEMPROF_INTERVAL="off"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "45\n", "")
    assert list(tmp_path.iterdir()) == []


def test_program_output_and_status_unchanged(tmp_path):
    prog = write(tmp_path, "prog.py", """
        import sys
        @profile
        def f(n):
            s = 0
            for i in range(n):
                s += i
            return s
        print(f(1000), file=sys.stdout)
        print("err", file=sys.stderr)
        sys.exit(7)
    """)
    plain_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    plain = run([DEBIAN_PYTHON, "-c", "import builtins; builtins.profile = lambda f: f\n"
                 "exec(compile(open('prog.py').read(), 'prog.py', 'exec'))"], tmp_path, plain_env)
    traced = run([DEBIAN_PYTHON, str(prog)], tmp_path, agent_env(tmp_path / "t.jsonl"))
    assert (traced.returncode, traced.stdout, traced.stderr) == (7, "499500\n", "err\n")
    assert (plain.returncode, plain.stdout) == (7, "499500\n")


# ---- the decorated function stays what it was ----

BEHAVIOUR = """
import asyncio, functools, pickle, sys

@profile
def plain(a, b=2, *rest, **kw):
    "doc of plain"
    return (a, b, rest, kw)

@profile
def fails():
    raise KeyError("inner")

@profile
def gen(n):
    total = 0
    for i in range(n):
        got = yield i
        total += got or 0
    return total

@profile
async def coro(x):
    await asyncio.sleep(0)
    return x * 2

class C:
    @profile
    def method(self, x):
        return self, x

    @profile
    def calls(self):
        return self.method(1)[1] + 1

@profile
def rec(n):
    return 1 if n <= 1 else n * rec(n - 1)

@profile
def outer():
    inner = lambda v: v + 1
    def nested(v):
        return [inner(i) for i in range(v)]
    return nested(3)

assert plain(1, 3, 4, k=5) == (1, 3, (4,), {"k": 5})
assert plain.__name__ == "plain" and plain.__doc__ == "doc of plain"
assert plain.__qualname__ == "plain" and plain.__module__ == "__main__"
try:
    fails()
except KeyError as e:
    assert e.args == ("inner",)
else:
    raise AssertionError("no exception")
g = gen(3)
assert next(g) == 0 and g.send(10) == 1 and g.send(20) == 2
try:
    g.send(30)
except StopIteration as stop:
    assert stop.value == 60
g2 = gen(5); next(g2); g2.close()
assert asyncio.run(coro(21)) == 42
c = C()
assert c.method(5) == (c, 5) and c.calls() == 2
assert rec(5) == 120
assert outer() == [1, 2, 3]
assert pickle.loads(pickle.dumps(plain)) is plain
with profile:
    pass
profile.enable_by_count(); profile.disable_by_count()
print("ok")
"""


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_decorated_functions_behave(spec, tmp_path):
    exe = interpreter(spec)
    write(tmp_path, "behaviour.py", BEHAVIOUR)
    trace = tmp_path / "t.jsonl"
    out = run([exe, "behaviour.py"], tmp_path, agent_env(trace))
    assert (out.returncode, out.stdout, out.stderr) == (0, "ok\n", "")
    found = {name_rows[0]: None for name_rows in tables(report(trace))}
    text = report(trace)
    firsts = [min(rows) for _, rows, _ in tables(text)]
    # One table per decorated function, in decoration order; `fails` ran too.
    src = (tmp_path / "behaviour.py").read_text().splitlines()
    decorated = [i + 1 for i, line in enumerate(src) if line.strip() == "@profile"]
    assert firsts == decorated, text
    assert found
    rows = dict((min(r), r) for _, r, _ in tables(text))
    gen_rows = rows[decorated[2]]
    # gen(3) fully consumed + gen(5) closed after one item: 5 resumptions
    # reach `got = yield i` (3 + 1 ... ) -- count the for line: 3 + 1 + 1.
    for_line = decorated[2] + 3
    assert gen_rows[for_line][2] == 5, text
    rec_rows = rows[decorated[6]]
    assert rec_rows[decorated[6] + 2][2] == 5, "recursion: 5 frames run the body line"


# ---- processes, threads, exits ----

def test_threads_each_traced(tmp_path):
    write(tmp_path, "threads.py", """
        import threading
        @profile
        def work():
            x = [0] * 1000
            return len(x)
        def run(k):
            ts = [threading.Thread(target=work) for _ in range(k)]
            [t.start() for t in ts]
            [t.join() for t in ts]
        import sys
        run(int(sys.argv[1]))
    """)
    counts = {}
    for k in (1, 3):
        trace = tmp_path / ("t%d.jsonl" % k)
        out = run([DEBIAN_PYTHON, "threads.py", str(k)], tmp_path, agent_env(trace))
        assert out.returncode == 0, out.stderr
        rows = tables(report(trace))[0][1]
        counts[k] = rows[5][2]
        names = [r.get("name") for r in records(trace) if r.get("k") == "thread" and "name" in r]
        assert len(names) == k, names
    assert counts[3] == 3 * counts[1]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_children_have_sections(method, tmp_path):
    write(tmp_path, "mp.py", """
        import multiprocessing as mp, sys
        @profile
        def work(n):
            a = [0] * n
            return len(a)
        if __name__ == "__main__":
            ctx = mp.get_context(sys.argv[1])
            p = ctx.Process(target=work, args=(1000,))
            p.start(); p.join()
            assert p.exitcode == 0
            print(work(10))
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "mp.py", method], tmp_path, agent_env(trace))
    assert (out.returncode, out.stdout) == (0, "10\n"), out.stderr
    headers = [r for r in records(trace) if r["k"] == "memprof"]
    pids = {h["pid"] for h in headers}
    assert len(pids) == len(headers) >= 2, headers
    if method != "forkserver":      # there the fork server is the parent
        assert any(h["ppid"] in pids for h in headers), "a child section names its parent"
    text = report(trace)
    sections = [heading for _, rows, heading in tables(text) if rows[5] is not None]
    assert len(sections) >= 2, text
    # Each process ran work once: nothing is counted twice.
    for _, rows, heading in tables(text):
        assert rows[5][2] == 1, text


def test_fork_without_duplicates_and_os_exit(tmp_path):
    write(tmp_path, "fork.py", """
        import os
        @profile
        def work(n):
            a = [0] * n
            return len(a)
        work(5)
        pid = os.fork()
        if pid == 0:
            work(6)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print(os.WEXITSTATUS(status))
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "fork.py"], tmp_path, agent_env(trace))
    assert (out.returncode, out.stdout) == (0, "3\n"), out.stderr
    recs = records(trace)
    pids = [r["pid"] for r in recs if r["k"] == "memprof"]
    assert len(pids) == 2
    # The child's section was ended by os._exit (which skips destructors).
    ends = [r for r in recs if r["k"] == "end"]
    assert len(ends) == 2
    for _, rows, _ in tables(report(trace)):
        assert rows[5][2] == 1


def test_subprocess_python_child_appends(tmp_path):
    write(tmp_path, "child.py", """
        @profile
        def child_work():
            return [0] * 10
        child_work()
    """)
    write(tmp_path, "parent.py", """
        import os, subprocess, sys
        @profile
        def parent_work():
            return [0] * 10
        parent_work()
        os.chdir("/")
        subprocess.run([sys.executable, os.path.join(sys.argv[1], "child.py")], check=True)
    """)
    trace = tmp_path / "t.jsonl"
    env = agent_env(trace)
    env["LD_PRELOAD"] = os.path.relpath(AGENT, tmp_path)     # relative, then chdir
    out = run([DEBIAN_PYTHON, "parent.py", str(tmp_path)], tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert "cannot be preloaded" not in out.stderr and out.stderr == ""
    names = {r["qualname"] for r in records(trace) if r["k"] == "code"}
    assert names == {"parent_work", "child_work"}


def test_records_survive_sigkill_after_outermost_return(tmp_path):
    write(tmp_path, "killed.py", """
        import os, signal
        @profile
        def work():
            a = [0] * 100
            return a
        work()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "killed.py"], tmp_path, agent_env(trace))
    assert out.returncode == -signal.SIGKILL
    rows = tables(report(trace))[0][1]
    assert rows[5][2] == 1 and rows[6][2] == 1
    assert not any(r["k"] == "end" for r in records(trace))


@pytest.mark.parametrize("how", [["-X", "dev"], ["-X", "tracemalloc"]])
def test_debug_modes(how, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "example.py")
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, *how, "example.py"], tmp_path, agent_env(trace))
    assert out.returncode == 0, out.stderr
    assert "Fatal" not in out.stderr
    assert any(r["k"] == "end" for r in records(trace))


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_pythonmalloc_debug(spec, tmp_path):
    exe = interpreter(spec)
    shutil.copy(EXAMPLE, tmp_path / "example.py")
    trace = tmp_path / "t.jsonl"
    out = run([exe, "example.py"], tmp_path, agent_env(trace, PYTHONMALLOC="debug"))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert any(r["k"] == "end" for r in records(trace))


# ---- bad settings and broken outputs ----

def expect_one_warning(out, status=0, stdout="ok\n"):
    assert out.returncode == status
    assert out.stdout == stdout
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("memprof: warning: "), out.stderr


OK_PROG = """
@profile
def f():
    return [0] * 10
for _ in range(3):
    f()
print("ok")
"""


def test_bad_fd(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    expect_one_warning(run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(MEMPROF_FD="abc")))
    expect_one_warning(run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(MEMPROF_FD="57")))


def test_unwritable_output(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    out = run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(tmp_path / "no" / "such" / "t.jsonl"))
    expect_one_warning(out)


def test_existing_trace_not_clobbered(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    trace = tmp_path / "t.jsonl"
    trace.write_text("earlier run\n")
    expect_one_warning(run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(trace)))
    assert trace.read_text() == "earlier run\n"


def test_symlink_at_output_not_followed(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "t.jsonl").symlink_to(victim)
    expect_one_warning(run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(tmp_path / "t.jsonl")))
    assert victim.read_text() == "keep\n"


def test_full_disk(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    with open("/dev/full", "wb") as full:
        out = run([DEBIAN_PYTHON, "ok.py"], tmp_path,
                  agent_env(MEMPROF_FD=full.fileno()), pass_fds=(full.fileno(),))
    expect_one_warning(out)


def test_closed_pipe(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    r, w = os.pipe()
    os.close(r)
    try:
        out = run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(MEMPROF_FD=w), pass_fds=(w,))
    finally:
        os.close(w)
    expect_one_warning(out)


def test_trace_to_inherited_fd(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    trace = tmp_path / "fd.jsonl"
    with open(trace, "wb") as f:
        out = run([DEBIAN_PYTHON, "ok.py"], tmp_path, agent_env(MEMPROF_FD=f.fileno()),
                  pass_fds=(f.fileno(),))
    assert (out.returncode, out.stdout, out.stderr) == (0, "ok\n", "")
    rows = tables(report(trace))[0][1]
    assert rows[4][2] == 3


def test_default_output_name(tmp_path):
    write(tmp_path, "ok.py", OK_PROG)
    env = agent_env()
    proc = subprocess.Popen([DEBIAN_PYTHON, "ok.py"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.communicate(timeout=60)
    assert (tmp_path / ("memprof.%d.jsonl" % proc.pid)).exists()


# ---- the launcher ----

def test_launcher_prints_tables_and_keeps_status(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "example.py")
    out = run([str(LAUNCHER), "-o", "run.jsonl", DEBIAN_PYTHON, "example.py"], tmp_path,
              {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")})
    assert out.returncode == 0, out.stderr
    check_seed_table(out.stdout)
    assert "run.jsonl" in out.stderr
    assert (tmp_path / "run.jsonl").exists()
    # The command's exit status comes back; an existing trace is not overwritten.
    write(tmp_path, "exit.py", "@profile\ndef f():\n    return 1\nf()\nraise SystemExit(5)\n")
    out = run([str(LAUNCHER), "-o", "e.jsonl", "exit.py"], tmp_path, dict(os.environ))
    assert out.returncode == 5, out.stderr
    out = run([str(LAUNCHER), "-o", "e.jsonl", "exit.py"], tmp_path, dict(os.environ))
    assert out.returncode == 2 and "exists" in out.stderr
    out = run([str(LAUNCHER), "--precision", "1", "-f", "-o", "e.jsonl", "exit.py"], tmp_path,
              dict(os.environ))
    assert out.returncode == 5 and " MiB" in out.stdout
    assert re.search(r"\d\.\d MiB", out.stdout) and not re.search(r"\d\.\d\d MiB", out.stdout)


def test_make_install(tmp_path):
    dest = tmp_path / "dest"
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "install", "DESTDIR=%s" % dest,
                          "PREFIX=/usr"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for f in ("usr/bin/memprof", "usr/bin/memprof-report", "usr/lib/memprof/libmemprof.so",
              "usr/share/man/man1/memprof.1", "usr/share/man/man1/memprof-report.1"):
        assert (dest / f).is_file(), f
    shutil.copy(EXAMPLE, tmp_path / "example.py")
    out = run([str(dest / "usr/bin/memprof"), "-o", "t.jsonl", DEBIAN_PYTHON, "example.py"],
              tmp_path, {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")})
    assert out.returncode == 0, out.stderr
    check_seed_table(out.stdout)


def test_spawn_pool_and_forked_child_are_sections(tmp_path):
    write(tmp_path, "pool.py", """\
        import multiprocessing as mp, os

        @profile
        def work(n):
            block = [0] * n
            return len(block)

        if __name__ == "__main__":
            with mp.get_context("spawn").Pool(2) as pool:
                assert pool.map(work, [10000] * 4) == [10000] * 4
            pid = os.fork()
            if pid == 0:
                work(5)
                os._exit(0)
            os.waitpid(pid, 0)
            work(7)
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "pool.py"], tmp_path, agent_env(trace))
    assert out.returncode == 0, out.stderr
    headers = [r for r in records(trace) if r["k"] == "memprof"]
    parents = [h for h in headers if h["argv"] == ["pool.py"] and h["ppid"] not in
               {x["pid"] for x in headers}]
    assert len(parents) == 1, headers
    parent = parents[0]["pid"]
    forked = [h for h in headers if h["ppid"] == parent and h["argv"] == ["pool.py"]]
    spawned = [h for h in headers if h["pid"] != parent and h not in forked]
    assert all(h["argv"] != ["pool.py"] for h in spawned)
    assert forked and spawned, headers
    text = report(trace)
    counts = [rows[5][2] for _, rows, _ in tables(text)]
    assert sum(counts) == 4 + 1 + 1, text       # 4 pool tasks, the fork child, the parent
    headings = {heading for _, _, heading in tables(text)}
    assert len(headings) >= 3 and all(h and h.startswith("Process ") for h in headings)


def test_closed_pipe_never_raises_sigpipe(tmp_path):
    # An embedder that keeps SIGPIPE's default action (Py_InitializeEx(0)):
    # a trace pipe whose reader is gone must not kill it.
    cc = shutil.which("cc") or shutil.which("gcc")
    config = shutil.which("python3-config", path="/usr/bin")
    if not cc or not config:
        pytest.skip("SKIPPED LOUDLY: no C compiler or /usr/bin/python3-config")
    src = tmp_path / "nosig.c"
    src.write_text(textwrap.dedent("""\
        #include <Python.h>
        int main(void)
        {
            Py_InitializeEx(0);
            int rc = PyRun_SimpleString(
                "@profile\\n"
                "def f():\\n"
                "    return [0] * 10\\n"
                "for i in range(3000):\\n"
                "    f()\\n"
                "print('done')\\n");
            return Py_FinalizeEx() < 0 ? 120 : rc ? 1 : 0;
        }
    """))
    flags = subprocess.run([config, "--cflags"], capture_output=True, text=True).stdout.split()
    libs = subprocess.run([config, "--ldflags", "--embed"], capture_output=True,
                          text=True).stdout.split()
    exe = tmp_path / "nosig"
    subprocess.run([cc, "-o", str(exe), str(src), *flags, *libs], check=True, capture_output=True)
    r, w = os.pipe()
    os.close(r)
    try:
        out = run([str(exe)], tmp_path, agent_env(MEMPROF_FD=w, MEMPROF_INTERVAL="off"),
                  pass_fds=(w,), restore_signals=True)
    finally:
        os.close(w)
    assert out.returncode == 0, (out.returncode, out.stderr)
    assert out.stdout == "done\n"
    assert out.stderr.startswith("memprof: warning: cannot write the trace")
    assert "Broken pipe" in out.stderr and len(out.stderr.splitlines()) == 1
