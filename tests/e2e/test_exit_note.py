"""The bare LD_PRELOAD form names its trace once, at exit, on a terminal's
standard error; MEMPROF_QUIET=1 silences it, and a captured stderr (a pipe,
a file) never gets it, so a program's own stderr stays its own."""
import os
import pty
import select
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "build" / "libmemprof.so"
PYTHON = "/usr/bin/python3.11"

PROG = """\
import os, subprocess, sys

@profile
def f():
    return len([0] * 1000)

f()
pid = os.fork()
if pid == 0:
    f()
    os._exit(0)
os.waitpid(pid, 0)
subprocess.run([sys.executable, "-c", "pass"], check=True)
print("done")
"""


def run_on_terminal(cwd, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")}
    env.update(LD_PRELOAD=str(AGENT), **extra)
    master, slave = pty.openpty()
    proc = subprocess.Popen([PYTHON, "prog.py"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=slave, text=True)
    os.close(slave)
    out = proc.stdout.read()
    proc.wait(timeout=60)
    err = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:         # the terminal's other side is gone
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    return proc.returncode, out, err.decode().replace("\r\n", "\n")


def test_trace_named_once_on_a_terminal(tmp_path):
    (tmp_path / "prog.py").write_text(PROG)
    rc, out, err = run_on_terminal(tmp_path)
    assert rc == 0 and out == "done\n"
    traces = list(tmp_path.glob("memprof.*.jsonl"))
    assert len(traces) == 1
    assert err == "memprof: trace written to %s\n" % traces[0], err


def test_quiet_and_captured_stderr_get_no_note(tmp_path):
    (tmp_path / "prog.py").write_text(PROG)
    rc, out, err = run_on_terminal(tmp_path, MEMPROF_QUIET="1")
    assert rc == 0 and out == "done\n" and err == ""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")}
    env["LD_PRELOAD"] = str(AGENT)
    proc = subprocess.run([PYTHON, "prog.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(list(tmp_path.glob("memprof.*.jsonl"))) == 2


def test_no_note_when_the_trace_was_removed(tmp_path):
    (tmp_path / "prog.py").write_text("print('hi')\n")
    rc, out, err = run_on_terminal(tmp_path, MEMPROF_INTERVAL="off")
    assert rc == 0 and out == "hi\n" and err == ""
    assert list(tmp_path.glob("memprof.*")) == []


def test_large_trace_note_names_the_aggregating_mode(tmp_path):
    # MEMPROF_SIZE_NOTE (for tests) lowers the 256 MiB past which the note
    # says how to keep a trace small; in the aggregating mode it does not.
    (tmp_path / "prog.py").write_text(PROG)
    rc, out, err = run_on_terminal(tmp_path, MEMPROF_SIZE_NOTE="100")
    assert rc == 0 and out == "done\n"
    traces = list(tmp_path.glob("memprof.*.jsonl"))
    assert len(traces) == 1
    size_mib = traces[0].stat().st_size >> 20
    assert err == ("memprof: trace written to %s (%d MiB: MEMPROF_AGGREGATE=1 keeps long runs small)\n"
                   % (traces[0], size_mib)), err
    traces[0].unlink()
    rc, out, err = run_on_terminal(tmp_path, MEMPROF_SIZE_NOTE="100", MEMPROF_AGGREGATE="1")
    traces = list(tmp_path.glob("memprof.*.jsonl"))
    assert rc == 0 and err == "memprof: trace written to %s\n" % traces[0], err
    traces[0].unlink()
    rc, out, err = run_on_terminal(tmp_path, MEMPROF_SIZE_NOTE=str(1 << 30))
    traces = list(tmp_path.glob("memprof.*.jsonl"))
    assert rc == 0 and err == "memprof: trace written to %s\n" % traces[0], err
