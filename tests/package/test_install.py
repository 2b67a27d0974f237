"""The Python package: built from this tree with Debian's setuptools and
wheel (no network), installed into a fresh `python3 -m venv` in a temporary
directory, and each entry point run there: `memprof`, `memprof-report`,
`python -m memprof` and `import memprof`.

The wheel is built by Debian's pip (`--no-build-isolation`: the venv has no
`wheel`), then installed into the venv with `--no-index`: nothing comes from
PyPI. Run by `make test-package` (part of `make test`).
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = '/usr/bin/python3'

PROGRAM = textwrap.dedent('''\
    @profile
    def grow():
        a = [1] * (10 ** 6)
        b = [2] * (2 * 10 ** 7)
        del b
        return a

    grow()
    ''')


def run(args, **kw):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('MEMPROF_') or k == 'LD_PRELOAD':
            del env[k]
    env.update(kw.pop('env', {}))
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, **kw)


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('pkg')
    wheels = tmp / 'wheels'
    built = run([PYTHON, '-m', 'pip', 'wheel', '--no-build-isolation', '--no-deps',
                 '--no-index', '-w', str(wheels), str(ROOT)])
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob('memprof_lines-*.whl')
    env = tmp / 'venv'
    made = run([PYTHON, '-m', 'venv', str(env)])
    assert made.returncode == 0, made.stderr
    installed = run([str(env / 'bin' / 'pip'), 'install', '--no-index', str(wheel)])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (tmp / 'work').mkdir()
    (tmp / 'work' / 'grow.py').write_text(PROGRAM)
    return env, tmp / 'work'


def check_table(out):
    lines = out.splitlines()
    assert 'Filename: grow.py' in lines, out
    rows = {int(l.split()[0]): l for l in lines if l[:6].strip().isdigit()}
    # b = [2] * (2 * 10 ** 7): 152.590 MiB, and the del gives it back.
    inc = float(rows[4].split()[3])
    assert 150 < inc < 155, rows[4]
    assert float(rows[5].split()[3]) < -150, rows[5]


def test_memprof_command(venv):
    env, work = venv
    r = run([str(env / 'bin' / 'memprof'), '-o', 'a.jsonl', 'grow.py'], cwd=work)
    assert r.returncode == 0, r.stderr
    check_table(r.stdout)
    # memprof-report prints the same tables from the trace.
    rep = run([str(env / 'bin' / 'memprof-report'), 'a.jsonl'], cwd=work)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == r.stdout


def test_python_dash_m(venv):
    env, work = venv
    # The script runs with the venv's own interpreter, not python3 on PATH.
    (work / 'which.py').write_text('import sys\nprint(sys.prefix)\n' + PROGRAM)
    r = run([str(env / 'bin' / 'python'), '-m', 'memprof', '-o', 'b.jsonl', 'which.py'], cwd=work,
            env={'PATH': '/usr/bin:/bin'})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == str(env)
    assert 'Filename: which.py' in r.stdout


def test_import_memprof_loads_the_agent(venv):
    env, work = venv
    code = textwrap.dedent('''\
        import sys
        before = set(sys.modules)
        maps = lambda: "libmemprof.so" in open("/proc/self/maps").read()
        assert not maps()
        import memprof
        assert maps()           # the import loaded it, before any call
        assert memprof.start()
        assert 5 < memprof.rss() < 500, memprof.rss()
        print('profile' in dir(__builtins__))
        ''')
    r = run([str(env / 'bin' / 'python'), '-c', code], cwd=work)
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'True\n'
    # Loaded by dlopen: no LD_PRELOAD in the process or its children.
    assert 'LD_PRELOAD' not in r.stdout


def test_import_memprof_tables_and_memory_profiler(venv):
    # memprof's API in a process that did not start with the agent, and
    # memory_profiler served from the agent (the venv has no memory_profiler).
    env, work = venv
    code = textwrap.dedent('''\
        import memprof
        memprof.start()

        def grow():
            a = [1] * (10 ** 6)
            b = [2] * (2 * 10 ** 7)
            del b
            return a

        grow = memprof.register(grow)
        with memprof.tracing():
            grow()
        print(memprof.table(grow, precision=3), end="")
        print("all", memprof.table() == memprof.table(grow))
        memprof.reset()
        print("reset", repr(memprof.table()))
        memprof.mark_peak()
        x = [0] * (3 * 10 ** 7)
        del x
        print("peak", memprof.peak() - memprof.rss() > 200)
        from memory_profiler import memory_usage
        print("memory_usage", type(memory_usage()).__name__)
        ''')
    (work / 'api.py').write_text(code)
    r = run([str(env / 'bin' / 'python'), 'api.py'], cwd=work)
    assert r.returncode == 0, r.stderr
    tables = r.stdout.split('all ')[0]
    assert tables.startswith('Filename: ') and 'a = [1] * (10 ** 6)' in tables
    row = [l for l in tables.splitlines() if 'b = [2]' in l][0]
    assert 150 < float(row.split()[3]) < 155, row
    assert r.stdout.split('all ')[1].splitlines() == [
        'True', "reset ''", 'peak True', 'memory_usage list']
    # No trace file was written (none was asked for).
    assert not list(work.glob('memprof.*.jsonl'))
