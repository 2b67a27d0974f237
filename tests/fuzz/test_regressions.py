"""Replays tests/fuzz/regressions/ (see its README) and checks how the
report treats source files that are not regular files.  Fast: part of
`make test`."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "fuzz" / "regressions"
FUZZ = ROOT / "build" / "fuzz" / "fuzz_report"
REPORT = ROOT / "build" / "memprof-report"


def cases(plain=False):
    """PLAIN: for the unsanitized report, where an open bug found by a
    sanitizer need not show (its note has no "plain: crash" line); there
    every other case must simply not crash."""
    out = []
    for note in sorted(HERE.glob("*.note")):
        data = note.with_suffix("")
        lines = note.read_text().splitlines()
        status = lines[0].strip()
        assert status in ("status: open", "status: fixed"), note
        crashes_plain = "plain: crash" in lines
        marks = []
        if status == "status: open" and (not plain or crashes_plain):
            why = [l for l in note.read_text().splitlines() if l.startswith("what:")]
            marks = [pytest.mark.xfail(strict=True, reason="open bug, see %s: %s"
                                       % (note.name, why[0] if why else ""))]
        out.append(pytest.param(data, id=data.name, marks=marks))
    return out


def test_every_case_has_a_note():
    for f in HERE.iterdir():
        if f.name != "README" and f.suffix != ".note":
            assert Path(str(f) + ".note").exists(), "%s has no note" % f.name


@pytest.mark.parametrize("case", cases())
def test_replay_sanitized(case):
    if not FUZZ.exists():
        pytest.skip("SKIPPED LOUDLY: build/fuzz/fuzz_report is not built (no clang?): "
                    "run `make fuzz-build`")
    env = dict(os.environ, UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               ASAN_OPTIONS="detect_leaks=1")
    out = subprocess.run([str(FUZZ), "-runs=1", str(case)], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "runtime error" not in out.stderr, out.stderr[-4000:]


@pytest.mark.parametrize("case", cases(plain=True))
def test_replay_plain_report(case):
    out = subprocess.run([str(REPORT), str(case)], capture_output=True, timeout=20,
                         cwd=HERE)
    assert out.returncode in (0, 1, 2), out.stderr[-2000:]


def test_line_longer_than_the_read_block(tmp_path):
    """A record longer than the reader's 1 MiB block makes it grow."""
    trace = tmp_path / "long.jsonl"
    trace.write_bytes(
        b'{"k":"memprof","version":1,"pid":1,"ppid":0,"argv":["x.py"]}\n'
        b'{"k":"pid","pid":1}\n{"k":"file","id":1,"path":"' + b"a" * (3 << 20) + b'.py"}\n'
        b'{"k":"code","id":1,"file":1,"name":"f","top":1,"lines":[1,2]}\n'
        b'{"k":"thread","id":1,"name":"MainThread"}\n[1,1,1,1048576,1]\n[0,1,2,2097152,2]\n[2,1,2,2097152,3]\n')
    out = subprocess.run([str(REPORT), str(trace)], capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(b"a" * (3 << 20)) == 1


def trace_naming(tmp_path, abspath):
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        '{"k":"memprof","version":1,"pid":1,"ppid":0,"argv":["x.py"],"cwd":"%s"}\n'
        '{"k":"pid","pid":1}\n{"k":"file","id":1,"path":"x.py","abspath":"%s"}\n'
        '{"k":"code","id":1,"file":1,"name":"f","top":1,"lines":[1,3]}\n'
        '{"k":"thread","id":1,"name":"MainThread"}\n[1,1,1,1048576,1]\n[0,1,2,2097152,2]\n[2,1,2,2097152,3]\n'
        % (tmp_path, abspath))
    return trace


def run_limited(trace, timeout=10):
    # 1 GiB of address space: reading an endless file must not take the machine.
    return subprocess.run(["prlimit", "--as=%d" % (1 << 30), str(REPORT), str(trace)],
                          capture_output=True, text=True, timeout=timeout)


def test_source_that_is_a_directory(tmp_path):
    out = run_limited(trace_naming(tmp_path, tmp_path))
    assert out.returncode == 0 and "cannot read source" in out.stderr, out.stderr
    assert "Filename: x.py" in out.stdout


def test_source_that_never_ends(tmp_path):
    out = run_limited(trace_naming(tmp_path, "/dev/zero"))
    assert out.returncode == 0, out.stderr
    assert "Filename: x.py" in out.stdout


def test_source_that_is_a_fifo(tmp_path):
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    try:
        out = run_limited(trace_naming(tmp_path, fifo), timeout=3)
    except subprocess.TimeoutExpired:
        pytest.fail("memprof-report hung opening a FIFO named as a source file")
    assert out.returncode == 0, out.stderr
