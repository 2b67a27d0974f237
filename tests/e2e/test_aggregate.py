"""The aggregating mode (MEMPROF_AGGREGATE): the agent keeps the tables
itself, with the report's rule, and writes snapshots instead of events."""
import json
import re
import subprocess

import pytest

from test_agent import (DEBIAN_PYTHON, INTERPRETERS, REPORT, agent_env, interpreter, run,
                        tables, write)

PROGRAM = """\
import threading

@profile
def grow(n):
    keep = []
    for i in range(n):
        keep.append(bytearray(4096))
        if i % 100 == 0:
            keep = keep[50:]
    return len(keep)

@profile
def outer():
    a = [0] * 200000
    grow(500)
    del a
    return [x for x in range(100)]

outer()
ts = [threading.Thread(target=grow, args=(300,)) for _ in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
"""


def split(trace, tmp_path):
    """The same run as two traces: one with the events, one with the tables."""
    lines = trace.read_text().splitlines(keepends=True)
    events = [l for l in lines if '"k":"table"' not in l]
    snapshots = [l for l in lines if not l.startswith("[")]
    a, b = tmp_path / "events.jsonl", tmp_path / "tables.jsonl"
    a.write_text("".join(events))
    b.write_text("".join(snapshots))
    return a, b


def report_text(trace):
    out = subprocess.run([str(REPORT), str(trace)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_tables_equal_events(spec, tmp_path):
    exe = interpreter(spec)
    write(tmp_path, "agg.py", PROGRAM)
    trace = tmp_path / "t.jsonl"
    out = run([exe, "agg.py"], tmp_path, agent_env(trace, MEMPROF_AGGREGATE="both"))
    assert out.returncode == 0, out.stderr
    events, snapshots = split(trace, tmp_path)
    assert sum(1 for l in snapshots.read_text().splitlines() if l.startswith("[")) == 0
    from_events = report_text(events)
    from_tables = report_text(snapshots)
    # The note under a table that names compat artefacts needs what each
    # line cost, which only events give (README): the tables are the same.
    assert "Note:" not in from_tables
    assert without_notes(from_events) == from_tables
    assert len(tables(from_tables)) == 2
    # both kinds of record in one trace: the tables as from either, and the
    # ranking and --mode exact of the events
    assert report_text(trace) == from_events
    exact = subprocess.run([str(REPORT), "--mode", "exact", str(trace)], capture_output=True,
                           text=True, timeout=60)
    assert exact.returncode == 0, exact.stderr
    assert exact.stdout == subprocess.run([str(REPORT), "--mode", "exact", str(events)],
                                          capture_output=True, text=True, timeout=60).stdout
    refused = subprocess.run([str(REPORT), "--mode", "exact", str(snapshots)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "MEMPROF_AGGREGATE=both or 0" in refused.stderr


def without_notes(text):
    return re.sub(r"(?ms)^Note: .*?\n\n", "", text)


def test_long_loop_gives_a_small_trace(tmp_path):
    write(tmp_path, "hot.py", """\
        @profile
        def hot(n):
            s = 0
            for i in range(n):
                s += i
            return s
        hot(300000)
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "hot.py"], tmp_path, agent_env(trace, MEMPROF_AGGREGATE="1"))
    assert out.returncode == 0, out.stderr
    # 600,000 events (about 15 MiB as events) in a region or two of 32 KiB.
    assert trace.stat().st_size <= 2 * 32 * 1024
    rows = tables(report_text(trace))[0][1]
    assert rows[4][2] == 300001 and rows[5][2] == 300000


def test_bad_aggregate_value(tmp_path):
    write(tmp_path, "ok.py", "@profile\ndef f():\n    return 1\nf()\nprint('ok')\n")
    out = run([DEBIAN_PYTHON, "ok.py"], tmp_path,
              agent_env(tmp_path / "t.jsonl", MEMPROF_AGGREGATE="maybe"))
    assert out.returncode == 0 and out.stdout == "ok\n"
    assert out.stderr.startswith("memprof: warning: MEMPROF_AGGREGATE")
