"""The agent's Python side in the program's interpreter (issue 10, fault 3):
it imports nothing, so the program's sys.modules and import hooks never see
it, and the rows it gives a table (a registered code record's "lines",
found in C by collector/source_block.c) are what inspect.getsourcelines
gives, on tricky sources (blocks/), on every interpreter present.
"""
import json
import textwrap

import pytest

from test_agent import DEBIAN_PYTHON, INTERPRETERS, agent_env, interpreter, records, run

from pathlib import Path

BLOCKS = Path(__file__).resolve().parent / "blocks"

# Every code object of the files named, children before parents (so that
# each is registered with a table, and lines, of its own): under the agent
# each is passed to profile; with "inspect" (no agent) inspect's answer is
# printed, as memory_profiler would take it.
DRIVER = r'''
import json, sys, types

def codes(code, seen):
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and id(c) not in seen:
            seen.add(id(c))
            yield from codes(c, seen)
    yield code

mode, paths = sys.argv[1], sys.argv[2:]
found = []
keep = []
for path in paths:
    with open(path, "rb") as f:
        module = compile(f.read(), path, "exec")
    keep.append(module)
    for code in codes(module, set()):
        if mode == "agent":
            closure = tuple(types.CellType() for _ in code.co_freevars)
            profile(types.FunctionType(code, {}, None, None, closure))
            continue
        import inspect, linecache
        try:
            if code.co_name == "<module>":
                rows = [1, len(linecache.getlines(path))]
            else:
                lines, start = inspect.getsourcelines(code)
                rows = [start, start + len(lines) - 1]
        except Exception:
            rows = None
        found.append([code.co_name, code.co_firstlineno, rows])
if mode == "inspect":
    print(json.dumps(found))
'''


def block_files(exe, tmp_path):
    out = run([exe, "-c", "import sys; print(sys.version_info[1])"], tmp_path, agent_env())
    minor = int(out.stdout)
    names = sorted(p.name for p in BLOCKS.glob("*.py") if minor >= 12 or p.name != "py312.py")
    assert len(names) >= 4
    return names


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_rows_equal_inspect_getsourcelines(spec, tmp_path):
    exe = interpreter(spec)
    names = block_files(exe, tmp_path)
    (tmp_path / "driver.py").write_text(DRIVER)
    plain_env = {k: v for k, v in agent_env().items() if k != "LD_PRELOAD"}
    oracle = run([exe, "driver.py", "inspect"] + [str(BLOCKS / n) for n in names],
                 tmp_path, plain_env)
    assert oracle.returncode == 0, oracle.stderr
    expected = json.loads(oracle.stdout)
    trace = tmp_path / "t.jsonl"
    traced = run([exe, "driver.py", "agent"] + [str(BLOCKS / n) for n in names],
                 tmp_path, agent_env(trace))
    assert (traced.returncode, traced.stdout, traced.stderr) == (0, "", "")
    got = [[r["name"], r["firstlineno"], r.get("lines")]
           for r in records(trace) if r.get("k") == "code" and r.get("top") == r.get("id")]
    assert len(expected) > 40, "the sources should hold many code objects"
    assert [e for e in expected if e[2] is None] == [], "inspect found every source"
    mismatches = [(e, g) for e, g in zip(expected, got) if e != g]
    assert mismatches == [] and len(got) == len(expected), \
        "(inspect, memprof) where they differ: %s" % mismatches


# ---- imports ----

WORK = textwrap.dedent('''
    import sys
    before = set(sys.modules)
    try:
        profile
    except NameError:
        class NoProfile:
            def __call__(self, f=None, precision=1):
                return f if f is not None else (lambda g: g)
            def __enter__(self):
                return self
            def __exit__(self, *exc_info):
                return False
        profile = NoProfile()

    @profile
    def work(n):
        return [i for i in range(n)]

    def gen():
        yield 1

    async def co():
        return 1

    work(10)
    list(profile(gen)())
    try:
        profile(co)().send(None)
    except StopIteration:
        pass
    with profile:
        pass
    profile(precision=2)(lambda: 1)()
    profile(len)
    print(sorted(set(sys.modules) - before))
    print(sorted(sys.modules))
''')


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_profiling_adds_no_module(spec, tmp_path):
    """sys.modules holds the same names with and without the agent, and
    profiling adds none (every kind of profiled function, the context
    manager, a decorator with arguments, an object without code)."""
    exe = interpreter(spec)
    (tmp_path / "work.py").write_text(WORK)
    plain_env = {k: v for k, v in agent_env().items() if k != "LD_PRELOAD"}
    plain = run([exe, "work.py"], tmp_path, plain_env)
    assert plain.returncode == 0, plain.stderr
    trace = tmp_path / "t.jsonl"
    traced = run([exe, "work.py"], tmp_path, agent_env(trace))
    assert traced.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout
    assert traced.stdout.startswith("[]\n")
    assert traced.stderr.count("memprof: warning:") == 1, traced.stderr
    assert "Could not extract a code object" in traced.stderr
    codes = [r for r in records(trace) if r.get("k") == "code" and r.get("top") == r.get("id")]
    assert [r["name"] for r in codes] == ["work", "gen", "co", "<lambda>"]


HOOKS = textwrap.dedent('''
    import builtins, sys
    seen = []
    real_import = builtins.__import__

    def spy(name, *args, **kwargs):
        seen.append(name)
        if name not in ("json",):
            raise ImportError("the program refuses %s" % name)
        return real_import(name, *args, **kwargs)

    class Finder:
        def find_spec(self, name, path=None, target=None):
            seen.append("meta_path:" + name)
            return None

    if "meta_path" in sys.argv:
        sys.meta_path.insert(0, Finder())
    if "import" in sys.argv:
        builtins.__import__ = spy

    @profile
    def work():
        return 1

    def gen():
        yield 1

    work()
    list(profile(gen)())
    with profile:
        pass
    builtins.__import__ = real_import
    print(seen)
''')


@pytest.mark.parametrize("hook", ["import", "meta_path"])
@pytest.mark.parametrize("spec", INTERPRETERS)
def test_program_import_hooks_see_nothing(spec, hook, tmp_path):
    """A patched builtins.__import__ that records and refuses, or a
    recording finder first in sys.meta_path, sees no call from memprof."""
    exe = interpreter(spec)
    (tmp_path / "hooks.py").write_text(HOOKS)
    trace = tmp_path / "t.jsonl"
    traced = run([exe, "hooks.py", hook], tmp_path, agent_env(trace))
    assert (traced.returncode, traced.stdout, traced.stderr) == (0, "[]\n", "")
    codes = [r for r in records(trace) if r.get("k") == "code" and r.get("top") == r.get("id")]
    assert [(r["name"], r.get("lines")) for r in codes] == [("work", [22, 24]), ("gen", [26, 27])]


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_selection_through_import_hooks(spec, tmp_path):
    """MEMPROF_FILES: the selection judges files without os.path, so the
    program's hooks see nothing there either."""
    exe = interpreter(spec)
    src = HOOKS.replace("@profile\n", "").replace("list(profile(gen)())", "list(gen())")
    src = src.replace("with profile:\n    pass\n", "")
    (tmp_path / "hooks.py").write_text(src)
    trace = tmp_path / "t.jsonl"
    traced = run([exe, "hooks.py", "import", "meta_path"], tmp_path,
                 agent_env(trace, MEMPROF_FILES="hooks.py"))
    assert (traced.returncode, traced.stdout, traced.stderr) == (0, "[]\n", "")
    names = [r["name"] for r in records(trace)
             if r.get("k") == "code" and r.get("top") == r.get("id")]
    assert "work" in names and "gen" in names, names


WRAPS = textwrap.dedent('''
    import functools, json, pickle, sys

    def target(a: int, b: "str" = "x") -> list:
        """The docstring."""
        return [a, b]
    target.extra = {"kept": 1}
    target.__wrapped__ = "from the function's own dict"
    expected = functools.wraps(target)(lambda *a, **k: None)

    original = target
    target = profile(target)
    names = ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__")
    same = {n: getattr(target, n) == getattr(expected, n) for n in names}
    print(json.dumps(same, sort_keys=True))
    wrapped = target.__wrapped__ is original if target is not original else "itself"
    print(target.extra, wrapped, target(1))
    print(pickle.loads(pickle.dumps(target)) is target)
''')


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_wrapper_metadata_as_functools_wraps(spec, tmp_path):
    """The wrapper (up to 3.11; from 3.12 the function itself) carries what
    functools.wraps would copy, __wrapped__ last, and pickles by name."""
    exe = interpreter(spec)
    (tmp_path / "wraps.py").write_text(WRAPS)
    traced = run([exe, "wraps.py"], tmp_path, agent_env(tmp_path / "t.jsonl"))
    assert traced.returncode == 0, traced.stderr
    lines = traced.stdout.splitlines()
    assert json.loads(lines[0]) == {n: True for n in json.loads(lines[0])}
    assert len(json.loads(lines[0])) == 5
    wrapped = "True" if spec == DEBIAN_PYTHON or spec[1] < 12 else "itself"
    assert lines[1:] == ["{'kept': 1} %s [1, 'x']" % wrapped, "True"]


CELL = textwrap.dedent('''
    import inspect, json, linecache
    source = "x = 1\\n\\n@profile\\ndef cell(n):\\n    return n * 2\\n    # the end\\n\\ny = cell(2)\\n"
    name = "<cell-1>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), globals())
    lines, start = inspect.getsourcelines(cell.__wrapped__ if hasattr(cell, "__wrapped__") else cell)
    print(json.dumps([start, start + len(lines) - 1]))
''')


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_rows_of_code_without_a_file_from_linecache(spec, tmp_path):
    """Code whose source is no file (a notebook cell) but whose lines the
    program put in linecache.cache: the rows are those inspect finds."""
    exe = interpreter(spec)
    (tmp_path / "cell.py").write_text(CELL)
    trace = tmp_path / "t.jsonl"
    traced = run([exe, "cell.py"], tmp_path, agent_env(trace))
    assert traced.returncode == 0, traced.stderr
    codes = [r for r in records(trace) if r.get("k") == "code" and r.get("top") == r.get("id")]
    assert [(r["name"], r.get("lines")) for r in codes] == [("cell", json.loads(traced.stdout))]
    assert json.loads(traced.stdout) == [3, 6]


PASS_THROUGH = textwrap.dedent('''
    import sys
    try:
        profile
    except NameError:
        profile = lambda f: f

    @profile
    def f(a, *args, b=2, **kw):
        return a, args, b, sorted(kw.items())

    class Boom(Exception):
        pass

    err = Boom("x")

    @profile
    def g():
        raise err

    @profile
    def rec(n):
        return n if n == 0 else rec(n - 1) + 1

    @profile
    def sets_a_tracer():
        sys.settrace(lambda *a: None)

    print(f(1), f(1, 2, 3, b=4, c=5), f(*[7], **{"b": 8, "z": 9}))
    try:
        g()
    except Boom as e:
        print(e is err, type(e.__traceback__).__name__)
    print(rec(50), f(0))
    sets_a_tracer()
    print(sys.gettrace() is not None)
''')


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_wrapper_passes_calls_through(spec, tmp_path):
    """Arguments, keyword arguments, results, exceptions (the same object)
    and recursion go through the wrapper (up to 3.11 its call is in C) as
    without the agent; a tracer the function sets stays set; and every
    call of the decorated functions is recorded."""
    exe = interpreter(spec)
    (tmp_path / "through.py").write_text(PASS_THROUGH)
    plain_env = {k: v for k, v in agent_env().items() if k != "LD_PRELOAD"}
    plain = run([exe, "through.py"], tmp_path, plain_env)
    traced = run([exe, "through.py"], tmp_path, agent_env(tmp_path / "t.jsonl"))
    assert plain.returncode == 0 and traced.returncode == 0, (plain.stderr, traced.stderr)
    assert traced.stderr == ""
    assert traced.stdout == plain.stdout and "True traceback" in plain.stdout
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()
              if line.startswith("[")]
    names = {r["id"]: r["name"] for r in records(tmp_path / "t.jsonl") if r.get("k") == "code"}
    calls = [names[e[1]] for e in events if e[0] == 1]
    assert sorted(set(calls)) == ["f", "g", "rec", "sets_a_tracer"]
    assert calls.count("f") == 4 and calls.count("rec") == 51 and calls.count("g") == 1
