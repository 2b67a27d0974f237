"""What the text tables' headings say: a pool's processes in pid order
(whatever order their headers were written in), merged into one section by
--processes merge with their rows added up; --threads split names each
thread and its native id; a table of code chosen without @profile (whose
rows start at its def, or cover a module) is headed by its function's
qualified name, on a line of its own before memory_profiler's "Filename:",
while a decorated function's table keeps memory_profiler's bytes.

Traces are written here from scratch.  Run: /usr/bin/python3 -m pytest -q tests/report
"""
import json
import re

from test_formats import GOLDEN, MIB, header, run

SOURCE = """\
@profile
def work(n):
    block = [0] * n
    return len(block)
"""

PARENT, WORKERS = 100, (107, 103, 105)      # headers written out of pid order


def section(pid, ppid, argv, events, t0):
    lines = [json.dumps({"k": "memprof", "version": 1, "pid": pid, "ppid": ppid,
                         "argv": list(argv), "cwd": "/nonexistent", "t0_ns": t0}),
             '{"k":"pid","pid":%d}' % pid]
    if events:
        lines += ['{"k":"file","id":1,"path":"app.py"}',
                  '{"k":"code","id":1,"file":1,"name":"work","qualname":"work",'
                  '"firstlineno":1,"top":1,"lines":[1,4]}',
                  '{"k":"thread","id":1,"tid":%d,"ident":9,"name":"MainThread"}' % pid]
        lines += events
    lines.append('{"k":"end","t":100000}')
    return lines


def call(mib, t):
    """One call of work: RSS rises by MIB at line 3."""
    base = 10 * MIB
    return ["[1,1,1,%d,%d]" % (base, t), "[0,1,3,%d,%d]" % (base, t + 10),
            "[0,1,4,%d,%d]" % (base + mib * MIB, t + 20),
            "[2,1,4,%d,%d]" % (base + mib * MIB, t + 30)]


def pool_trace(tmp_path):
    (tmp_path / "app.py").write_text(SOURCE)
    lines = section(PARENT, 1, ("app.py",), [], 10**12)
    for k, pid in enumerate(WORKERS):
        lines += section(pid, PARENT, ("-c", "--multiprocessing-fork"),
                         call(k + 1, 1000) + call(2 * (k + 1), 5000), 10**12 + 1000 * pid)
    path = tmp_path / "pool.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def text(*args, cwd):
    return run(*args, cwd=cwd).stdout.decode()


def test_pool_processes_print_in_pid_order(tmp_path):
    out = text(str(pool_trace(tmp_path)), cwd=tmp_path)
    heads = re.findall(r"^Process (\d+) \(parent (\d+)\)", out, re.M)
    assert heads == [("100", "1"), ("103", "100"), ("105", "100"), ("107", "100")]


def test_processes_merge_adds_the_pool_up(tmp_path):
    trace = pool_trace(tmp_path)
    out = text("--processes", "merge", str(trace), cwd=tmp_path)
    assert "Processes 103, 105, 107 (parent 100, merged): -c --multiprocessing-fork\n\n" in out
    assert out.count("Filename: app.py") == 1
    # Line 3 is charged the RSS after it: six calls in all, the largest
    # worker 107's second (10 + 2 * 3 MiB), each call's rise summed.
    row3 = re.search(r"^ +3 +([\d.]+) MiB +([\d.-]+) MiB +(\d+)   ", out, re.M)
    assert row3.group(3) == "6" and float(row3.group(1)) == 16.0
    assert float(row3.group(2)) == 1 + 2 + 2 + 4 + 3 + 6
    row4 = re.search(r"^ +4 +([\d.]+) MiB +([\d.-]+) MiB +(\d+)   ", out, re.M)
    assert row4.group(3) == "6"
    split = text("--processes", "split", str(trace), cwd=tmp_path)
    assert split.count("Filename: app.py") == 3 and "merged" not in split
    bad = run("--processes", "pool", str(trace), cwd=tmp_path, check=False)
    assert bad.returncode == 2 and b"--processes: 'pool' is not merge or split" in bad.stderr


def test_thread_heading_names_the_native_id(tmp_path):
    out = text("--threads", "split", "trace.jsonl", cwd=GOLDEN + "/threads")
    heads = re.findall(r"^Thread: .*$", out, re.M)
    assert heads and all(re.fullmatch(r"Thread: .+ \(native id \d+\)", h) for h in heads), heads
    trace = json.loads(open(GOLDEN + "/threads/trace.jsonl").readline())
    tids = {json.loads(l)["tid"] for l in open(GOLDEN + "/threads/trace.jsonl")
            if '"k":"thread"' in l and '"tid"' in l}
    assert {int(re.search(r"(\d+)\)$", h).group(1)) for h in heads} <= tids, (heads, trace)


def test_selected_code_is_named_decorated_keeps_memory_profilers_bytes(tmp_path):
    (tmp_path / "app.py").write_text("class Worker:\n    def run(self):\n"
                                     "        return [0] * 10\n")
    lines = [header(argv=("app.py",)), '{"k":"pid","pid":4242}',
             '{"k":"file","id":1,"path":"app.py"}',
             '{"k":"code","id":1,"file":1,"name":"run","qualname":"Worker.run",'
             '"firstlineno":2,"top":1,"lines":[2,3]}',
             '{"k":"thread","id":1,"tid":4242,"ident":1,"name":"MainThread"}',
             "[1,1,2,%d,0]" % (10 * MIB), "[0,1,3,%d,10]" % (10 * MIB),
             "[2,1,3,%d,20]" % (11 * MIB), '{"k":"end","t":30}']
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    out = text("t.jsonl", cwd=tmp_path)
    assert out.startswith("Function: Worker.run\nFilename: app.py\n\n"), out
    seed = text("trace.jsonl", cwd=GOLDEN + "/seed")
    assert seed == open(GOLDEN + "/seed/expected.out").read()
    assert "Function:" not in text("trace.jsonl", cwd=GOLDEN + "/nested_call")
