"""End-to-end tests of heap accounting: the interposed malloc family and
anonymous mmap (preload/interpose_alloc.c, collector/heap.c).

- Stress: many threads allocating and freeing with every interposed
  function while other threads fork children that allocate and leave with
  os._exit; it must end, without deadlock or crash, every time.
- Programs run unchanged (output and exit status) with accounting on.
- numpy under the agent, and known allocations seen in the 9-field events
  (those tests skip, loudly, while the trace has no 9-field events).

Nothing here depends on timing or on the machine's memory.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trace_format

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "build" / "libmemprof.so"
PYTHON = "/usr/bin/python3.11"
MiB = 1024 * 1024

if not AGENT.exists():
    pytest.skip("build/libmemprof.so is missing: run `make` first", allow_module_level=True)
if not os.path.exists(PYTHON):
    pytest.skip("memprof e2e: Debian's %s is not installed" % PYTHON, allow_module_level=True)

# How often the stress program runs; MEMPROF_STRESS_RUNS=100 for a long soak.
STRESS_RUNS = int(os.environ.get("MEMPROF_STRESS_RUNS", "20"))

LIBC = """
import ctypes
from ctypes import POINTER, byref, c_int, c_long, c_size_t, c_void_p
libc = ctypes.CDLL(None, use_errno=True)
for name, res, args in [
        ("malloc", c_void_p, [c_size_t]),
        ("calloc", c_void_p, [c_size_t, c_size_t]),
        ("realloc", c_void_p, [c_void_p, c_size_t]),
        ("reallocarray", c_void_p, [c_void_p, c_size_t, c_size_t]),
        ("free", None, [c_void_p]),
        ("posix_memalign", c_int, [POINTER(c_void_p), c_size_t, c_size_t]),
        ("aligned_alloc", c_void_p, [c_size_t, c_size_t]),
        ("memalign", c_void_p, [c_size_t, c_size_t]),
        ("valloc", c_void_p, [c_size_t]),
        ("mmap", c_void_p, [c_void_p, c_size_t, c_int, c_int, c_int, c_long]),
        ("munmap", c_int, [c_void_p, c_size_t]),
        ("mremap", c_void_p, [c_void_p, c_size_t, c_size_t, c_int])]:
    f = getattr(libc, name)
    f.restype, f.argtypes = res, args
PROT_RW, MAP_PRIVATE, MAP_ANONYMOUS, MREMAP_MAYMOVE = 3, 0x02, 0x20, 1
MAP_FAILED = 2 ** 64 - 1
"""

STRESS = LIBC + """
import os, sys, threading

def churn(n, seed):
    for i in range(n):
        size = 16 << ((i + seed) % 15)              # 16 B to 256 KiB
        p = libc.malloc(size)
        p = libc.realloc(p, 2 * size)
        p = libc.reallocarray(p, 3, size)
        libc.free(p)
        libc.free(libc.calloc(4, size))
        q = c_void_p()
        assert libc.posix_memalign(byref(q), 64, size) == 0
        libc.free(q)
        libc.free(libc.aligned_alloc(256, 256 * (1 + i % 8)))
        libc.free(libc.memalign(4096, size))
        libc.free(libc.valloc(size))
        m = libc.mmap(None, 65536, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        assert m != MAP_FAILED
        m = libc.mremap(m, 65536, 262144, MREMAP_MAYMOVE)
        assert m != MAP_FAILED
        assert libc.munmap(m + 4096, 4096) == 0     # a hole, then the rest
        assert libc.munmap(m, 262144) == 0
        b = bytearray(size)                         # pymalloc and its arenas
        del b

@profile
def traced(n, seed):
    churn(n, seed)
    x = [str(i) for i in range(2000)]
    return len(x)

def worker(seed):
    for k in range(4):
        traced(15, seed + k) if k % 2 else churn(15, seed + k)

def forker(seed):
    for k in range(5):
        pid = os.fork()
        if pid == 0:
            churn(10, seed + k)
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7, status

threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
threads += [threading.Thread(target=forker, args=(100 + i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


def agent_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")}
    env["LD_PRELOAD"] = str(AGENT)
    env["MEMPROF_OUTPUT"] = str(tmp_path / "trace.%p.jsonl")
    env["MEMPROF_HEAP"] = "1"
    env.update(extra)
    return env


def plain_env():
    return {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not k.startswith("MEMPROF_")}


def run(args, cwd, env, timeout=60, **kw):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def events(trace):
    """{code name: [event arrays]} of one process's trace, and the raw list."""
    names, out, all_events = {}, {}, []
    for rec in trace_format.read_trace(trace):
        if isinstance(rec, dict):
            if rec.get("k") == "code":
                names[rec["id"]] = rec["name"]
        else:
            all_events.append(rec)
            if rec[0] in (0, 1, 2):
                out.setdefault(names.get(rec[1]), []).append(rec)
    return out, all_events


def heap_fields(all_events):
    """Skip (loudly) while the agent does not write the heap fields yet."""
    lines = [e for e in all_events if e[0] in (0, 1, 2)]
    assert lines and all(len(e) == 9 for e in lines), "MEMPROF_HEAP=1 gives 9-field events"


def lineno(source, text):
    """The number of the first line of source that contains text."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def by_line(evs):
    """{line: (alloc, freed, heap_peak)} of the interval each line ran,
    charged as the report does: an event's interval belongs to the line
    before it in the same frame."""
    charged, previous = {}, None
    for e in evs:
        if previous is not None and e[0] in (0, 2):
            a, f, p = charged.get(previous, (0, 0, 0))
            charged[previous] = (a + e[6], f + e[7], max(p, e[8]))
        previous = e[2]
    return charged


# ---- stress ----

def test_stress_threads_and_forks_never_hang(tmp_path):
    prog = tmp_path / "stress.py"
    prog.write_text(STRESS)
    env = agent_env(tmp_path)
    # A few at a time: each waits on its forks much of its time.
    for first in range(0, STRESS_RUNS, 4):
        procs = [subprocess.Popen([PYTHON, str(prog)], cwd=tmp_path, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(first, min(first + 4, STRESS_RUNS))]
        for i, p in enumerate(procs, first + 1):
            try:
                out, err = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                pytest.fail("run %d of the stress program hung (deadlock?)" % i)
            assert (p.returncode, out, err) == (0, "done\n", ""), "run %d" % i
        for trace in tmp_path.glob("trace.*.jsonl"):
            trace.unlink()


# ---- programs unchanged ----

PROGRAMS = {
    "threads_json_re": """
        import json, re, threading, collections
        out = collections.Counter()
        def work(i):
            for k in range(2000):
                out[i] += len(json.dumps({"k": [k] * (k % 50)})) + len(re.findall(r"\\d", str(k)))
        ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        [t.start() for t in ts]; [t.join() for t in ts]
        print(sorted(out.items()))
    """,
    "subprocess_and_exit_status": """
        import subprocess, sys
        r = subprocess.run([sys.executable, "-c", "print(sum(range(100)))"], capture_output=True, text=True)
        print(r.stdout.strip(), r.returncode)
        sys.exit(3)
    """,
    "exception": """
        import decimal, fractions, sqlite3
        db = sqlite3.connect(":memory:")
        db.execute("create table t (x)")
        db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
        print(db.execute("select sum(x) from t").fetchone(), decimal.Decimal(1) / 7, fractions.Fraction(3, 9))
        raise ValueError("expected")
    """,
    "mmap_module_and_big_buffers": """
        import mmap, os, tempfile, array
        big = bytearray(50 * 1024 * 1024); big[-1] = 1
        a = array.array("d", range(10 ** 6))
        m = mmap.mmap(-1, 1 << 20); m[:5] = b"hello"
        with tempfile.TemporaryFile() as f:
            f.write(b"x" * 8192); f.flush()
            fm = mmap.mmap(f.fileno(), 8192)
            print(m[:5], fm[:3], big.count(1), len(a))
            fm.close()
        m.close()
    """,
    "numpy": """
        import numpy
        a = numpy.ones(10 ** 7)
        b = numpy.arange(10 ** 4, dtype=float).reshape(100, 100)
        print(a.sum(), (b @ b.T)[3, 4], numpy.linalg.norm(numpy.eye(50)))
    """,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_programs_unchanged(name, tmp_path):
    prog = tmp_path / ("prog_" + name + ".py")
    prog.write_text(textwrap.dedent(PROGRAMS[name]))
    plain = run([PYTHON, prog.name], tmp_path, plain_env())
    traced = run([PYTHON, prog.name], tmp_path, agent_env(tmp_path))
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout)
    assert traced.stderr == plain.stderr, traced.stderr
    if name == "numpy":
        assert plain.returncode == 0, plain.stderr


# ---- what the events count ----

def run_profiled(tmp_path, source):
    prog = tmp_path / "prog.py"
    prog.write_text(source)
    out = run([PYTHON, prog.name], tmp_path, agent_env(tmp_path))
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    traces = list(tmp_path.glob("trace.*.jsonl"))
    assert len(traces) == 1
    return events(traces[0])


def test_ctypes_malloc_and_mmap_are_counted(tmp_path):
    source = LIBC + textwrap.dedent("""
        import mmap, tempfile
        @profile
        def f():
            p = libc.malloc(10 * 1024 * 1024)
            libc.free(p)
            m = libc.mmap(None, 8 * 1024 * 1024 + 1, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            libc.munmap(m, 8 * 1024 * 1024 + 1)
            fm = mmap.mmap(tf.fileno(), 4 * 1024 * 1024)
            fm.close()
            return 0
        tf = tempfile.TemporaryFile()
        tf.truncate(4 * 1024 * 1024)
        f()
    """)
    per_code, all_events = run_profiled(tmp_path, source)
    heap_fields(all_events)
    lines = by_line(per_code["f"])
    malloc_line, free_line, map_line, unmap_line, file_line = (
        lineno(source, s) for s in ("libc.malloc(10", "libc.free(p)", "m = libc.mmap",
                                    "libc.munmap(m", "fm = mmap.mmap"))
    alloc, freed, peak = lines[malloc_line]
    assert 10 * MiB <= alloc < 10 * MiB + 64 * 1024 and peak >= 10 * MiB
    assert lines[free_line][1] == alloc, "free counts the usable size malloc counted"
    # 8 MiB + 1 byte is 8 MiB and one page of anonymous private mapping.
    assert lines[map_line][0] >= 8 * MiB + 4096
    assert lines[unmap_line][1] >= 8 * MiB + 4096
    # A file mapping is not heap.
    assert lines[file_line][0] < MiB and lines[file_line][1] < MiB


def test_numpy_ones_is_counted(tmp_path):
    source = textwrap.dedent("""
        import numpy
        @profile
        def f():
            a = numpy.ones(10 ** 7)
            del a
            return 0
        f()
    """)
    per_code, all_events = run_profiled(tmp_path, source)
    heap_fields(all_events)
    lines = by_line(per_code["f"])
    alloc, freed, peak = lines[lineno(source, "numpy.ones")]
    assert 80 * 10 ** 6 <= alloc < 81 * 10 ** 6 and peak >= 80 * 10 ** 6
    assert 80 * 10 ** 6 <= lines[lineno(source, "del a")][1] < 81 * 10 ** 6


def test_pymalloc_arenas_are_counted(tmp_path):
    """Small objects live in pymalloc's mmap'ed arenas: without
    PYTHONMALLOC=malloc they count through mmap."""
    per_code, all_events = run_profiled(tmp_path, textwrap.dedent("""
        @profile
        def f():
            x = list(zip(range(300000), range(300000)))
            del x
            return 0
        f()
    """))
    heap_fields(all_events)
    evs = [e for e in all_events if e[0] in (0, 1, 2)]
    # 300000 tuples of 56 bytes: about 16 MiB in arenas, plus the list.
    assert sum(e[6] for e in evs) >= 16 * 10 ** 6
    assert sum(e[7] for e in evs) >= 16 * 10 ** 6
