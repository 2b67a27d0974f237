"""What memory_profiler cannot show: the peak inside a line, the heap per
line, the exact mode, and tables split by thread."""
import os
import subprocess

import pytest

from test_agent import (DEBIAN_PYTHON, INTERPRETERS, REPORT, agent_env, interpreter, run,
                        tables, write)

ROW_TEXT = None


def report_rows(trace, *args):
    """{function's first line: {line: [columns as floats or None]}} from the text tables."""
    out = subprocess.run([str(REPORT), *args, str(trace)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    result, current, header = {}, None, None
    for line in out.stdout.splitlines():
        if line.startswith("Line #"):
            header = line
            current = {}
        elif current is not None and line[:6].strip().isdigit():
            n = int(line[:6])
            cells = line[6:].split(" MiB")
            values = []
            for cell in cells[:-1]:
                values.append(float(cell.split()[-1]))
            current[n] = values or None
            if len(current) == 1:
                result[n] = current
    return result, out.stdout


SPIKE = """\
@profile
def spike():
    keep = [0] * 1000
    size = len(bytearray(201 * 2**20))
    return size + len(keep)

spike()
"""


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_peak_inside_a_line(spec, tmp_path):
    exe = interpreter(spec)
    write(tmp_path, "spike.py", SPIKE)
    trace = tmp_path / "t.jsonl"
    out = run([exe, "spike.py"], tmp_path, agent_env(trace, MEMPROF_PEAK="1"))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    rows, text = report_rows(trace)
    line4 = rows[1][4]      # Mem usage, Increment, Peak
    assert "Peak" in text
    # A temporary of a little over 200 MiB: the kernel's RSS counters lag by
    # a few pages, so exactly 200 MiB can read as 199.99.
    assert line4[2] - line4[0] >= 200, text
    assert abs(line4[1]) < 5, "the bytearray is gone when the next line starts"


def test_numpy_temporary_in_heap_columns(tmp_path):
    pytest.importorskip("numpy")
    write(tmp_path, "np.py", """\
        import numpy

        @profile
        def temp():
            base = numpy.zeros(10)
            total = float((numpy.ones(10**7) * 2).sum())
            return total + base.sum()

        temp()
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "np.py"], tmp_path, agent_env(trace, MEMPROF_HEAP="1"))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    rows, text = report_rows(trace)
    # Mem usage, Increment, Peak, Allocated, Freed, Heap peak
    line = rows[3][6]
    assert "Allocated" in text and "Heap peak" in text
    assert line[3] >= 76, text          # 10**7 doubles: 76.3 MiB from malloc
    assert line[4] >= 76, text          # and freed within the line
    assert line[5] >= 76 and line[2] - line[0] >= 70, text


EXACT = """\
@profile
def inner():
    block = [0] * (5 * 10**6)
    return block

@profile
def outer():
    a = inner()
    b = [1] * (5 * 10**6)
    del a
    for i in range(3):
        c = [2] * (2 * 10**6)
        del c
    return len(b)

outer()
"""


def test_exact_mode(tmp_path):
    write(tmp_path, "exact.py", EXACT)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "exact.py"], tmp_path, agent_env(trace))
    assert out.returncode == 0, out.stderr
    compat, _ = report_rows(trace)
    exact, _ = report_rows(trace, "--mode", "exact")
    mib38 = 5 * 10**6 * 8 / 2**20
    # compat: the line calling a profiled function is charged its absolute
    # usage (memory_profiler's defect #234); exact: what the call kept.
    assert compat[6][8][1] == pytest.approx(compat[6][8][0], abs=0.01)
    assert exact[6][8][1] == pytest.approx(mib38, abs=2)
    assert exact[6][6][1] == pytest.approx(0, abs=1), "the decorator line starts at 0"
    assert exact[6][9][1] == pytest.approx(mib38, abs=2)
    assert exact[6][10][1] == pytest.approx(-mib38, abs=2)
    # Loop lines: each charged what it did (how much the allocator gives
    # back on `del` is its own business), never a sum against another
    # line's maximum: the list line grows, the del line shrinks, and the
    # loop as a whole does not go below zero.
    mib15 = 2 * 10**6 * 8 / 2**20
    assert exact[6][12][1] >= mib15 - 2
    assert exact[6][13][1] <= 0.5
    assert exact[6][12][1] + exact[6][13][1] >= -2
    # Mem usage and Occurrences do not depend on the mode.
    for first in compat:
        for line, values in compat[first].items():
            if values:
                assert exact[first][line][0] == values[0]


def test_threads_split(tmp_path):
    write(tmp_path, "th.py", """\
        import threading

        @profile
        def work(n):
            x = [0] * n
            return len(x)

        ts = [threading.Thread(target=work, args=(1000 * (i + 1),), name="worker-%d" % i)
              for i in range(3)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        work(10)
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "th.py"], tmp_path, agent_env(trace))
    assert out.returncode == 0, out.stderr
    merged = subprocess.run([str(REPORT), str(trace)], capture_output=True, text=True).stdout
    split = subprocess.run([str(REPORT), "--threads", "split", str(trace)], capture_output=True,
                           text=True).stdout
    assert len(tables(merged)) == 1 and tables(merged)[0][1][5][2] == 4
    found = tables(split)
    assert len(found) == 4 and [rows[5][2] for _, rows, _ in found] == [1, 1, 1, 1]
    names = [line for line in split.splitlines() if line.startswith("Thread: ")]
    assert sorted(n.split(" (")[0] for n in names) == [
        "Thread: MainThread", "Thread: worker-0", "Thread: worker-1", "Thread: worker-2"]
