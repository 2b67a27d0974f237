"""Regressions of issue 10, faults found under real programs: a trace
through a pipe or socket, fork from a thread, the fork warning of 3.12+,
the 3.10/3.11 trace-function race, code without line numbers, and the
smaller points (MEMPROF_INTERVAL, MEMPROF_SESSION, the agent's
descriptors).  Each test failed before its fix.  Part of `make test`
through test-e2e; every interpreter present is tried, absent ones are
skipped loudly.
"""
import json
import os
import re
import socket
import stat
import subprocess
import textwrap
import threading
from pathlib import Path

import pytest

from test_agent import AGENT, DEBIAN_PYTHON, REPORT, interpreter
from test_robustness import agent_env, plain_env


def interpreters(minors=range(8, 14), debian=True):
    params = [pytest.param(DEBIAN_PYTHON, id="debian-3.11")] if debian else []
    return params + [pytest.param(("pyenv", m), id="pyenv-3.%d" % m) for m in minors]


def write(path, source):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(textwrap.dedent(source))
    return Path(path)


def report(*args):
    return subprocess.run([str(REPORT), *map(str, args)], capture_output=True, timeout=60)


# ---- 1. a trace through a pipe or a socket ----

MODULE = """
@profile
def work_{i}():
    a = [{i}] * 1000
    return len(a)
"""

PIPE_PROG = """
import os, sys
sys.path.insert(0, sys.argv[1])
mods = [__import__("m%d" % i) for i in range(40)]
def run():
    for i, m in enumerate(mods):
        getattr(m, "work_%d" % i)()
pid = os.fork()
run()
if pid:
    os.waitpid(pid, 0)
else:
    os._exit(0)
"""


def drain(fd, into):
    """The reader on the other end: what a `5> >(cat > f)` does."""
    with os.fdopen(fd, "rb", buffering=0) as f, open(into, "wb") as out:
        while True:
            b = f.read(65536)
            if not b:
                return
            out.write(b)


@pytest.mark.parametrize("kind", ["pipe", "socket"])
@pytest.mark.parametrize("spec", interpreters())
def test_trace_through_a_pipe_reads(spec, kind, tmp_path):
    """Before: a {"k":"pid"} record landed inside the header line (the
    header's argv reservation was PIPE_BUF itself) and the report refused
    the trace; an argv of 100 KB, a long path and 40 files in two processes
    must all come through whole."""
    py = interpreter(spec)
    deep = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200)
    for i in range(40):
        write(deep / ("m%d.py" % i), MODULE.format(i=i))
    write(tmp_path / "prog.py", PIPE_PROG)
    if kind == "pipe":
        r, w = os.pipe()
    else:
        a, b = socket.socketpair()
        r, w = os.dup(a.fileno()), os.dup(b.fileno())
        a.close()
        b.close()
    got = tmp_path / "trace.jsonl"
    reader = threading.Thread(target=drain, args=(r, got))
    reader.start()
    long_arg = "x" * (100 * 1024)
    try:
        out = subprocess.run([py, "prog.py", str(deep), long_arg], cwd=tmp_path,
                             env=agent_env(MEMPROF_FD=w), pass_fds=(w,),
                             capture_output=True, timeout=120)
    finally:
        os.close(w)
        reader.join(60)
    assert out.returncode == 0, out.stderr
    rep = report("--format", "json", got)
    assert rep.returncode == 0 and rep.stderr == b"", rep.stderr[:2000]
    procs = json.loads(rep.stdout)["processes"]
    assert len(procs) == 2
    for p in procs:
        assert p["argv"][-1] == long_arg and p["ended"]
        names = {f["function"] for f in p["functions"]}
        assert names == {"work_%d" % i for i in range(40)}, names
