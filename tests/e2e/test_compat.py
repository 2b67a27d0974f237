"""memory_profiler's API served by memprof (preload/compat.py).

The programs in compat/ import memory_profiler explicitly, as its own tests
and examples do. Under the agent they get memprof's implementation: on
Debian's 3.11 although the real package is installed, on pyenv's 3.12 and
3.13 where it is not (there, without memprof, they die with
ModuleNotFoundError; test_without_memprof_there_is_no_memory_profiler).
Their output is compared with memory_profiler 0.61's own (Debian's python3,
no agent) line by line, after normalising what differs between any two runs:
the Mem usage column (memprof's interpreter starts ~37 MiB smaller, without
psutil and IPython), and each Increment to "small" or the sign of a big one
(over 60 MiB), keeping the number of decimals and every other character.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from memprof_harness import AGENT, ROOT, ORACLE_PYTHON, parse_tables
from test_agent import DEBIAN_PYTHON, interpreter

HERE = Path(__file__).resolve().parent
COMPAT = HERE / 'compat'
LAUNCHER = ROOT / 'build' / 'memprof'
PROGRAMS = sorted(p.name for p in COMPAT.glob('*.py'))
INTERPRETERS = [pytest.param(DEBIAN_PYTHON, id='debian-3.11'),
                pytest.param(('pyenv', 12), id='pyenv-3.12'),
                pytest.param(('pyenv', 13), id='pyenv-3.13')]

_ROW = re.compile(r'^(.*?\d+) +(-?\d+\.(\d+)) MiB +(-?\d+\.(\d+)) MiB( +\d+   .*)$')


def normalise(text):
    out = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            inc = float(m.group(4))
            size = 'BIG+' if inc > 60 else 'BIG-' if inc < -60 else 'small'
            line = '%s M.%s %s.%s%s' % (m.group(1), len(m.group(3)), size, len(m.group(5)),
                                         m.group(6))
        out.append(line)
    return '\n'.join(out)


def env_for(agent, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('MEMPROF_', 'PYTHON')) and k != 'LD_PRELOAD'}
    if agent:
        env['LD_PRELOAD'] = str(AGENT)
    env.update(extra)
    return env


def run(python, program, agent, tmp_path, **extra):
    env = env_for(agent, MEMPROF_OUTPUT=str(tmp_path / 'trace.%p.jsonl'), **extra)
    return subprocess.run([python, program], cwd=COMPAT, env=env, capture_output=True,
                          text=True, timeout=120)


_oracle = {}


def oracle(program, tmp_path):
    if program not in _oracle:
        r = run(ORACLE_PYTHON, program, False, tmp_path)
        assert r.returncode == 0, r.stderr
        _oracle[program] = r.stdout
    return _oracle[program]


@pytest.mark.parametrize('spec', INTERPRETERS)
@pytest.mark.parametrize('program', PROGRAMS)
def test_same_output_as_memory_profiler(program, spec, tmp_path):
    python = interpreter(spec)
    expected = oracle(program, tmp_path)
    r = run(python, program, True, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ''
    assert normalise(r.stdout) == normalise(expected)
    if 'Filename: ' in expected:
        # memprof's numbers, not memory_profiler's: its interpreter has not
        # imported psutil (memory_profiler's baseline is over 30 MiB here).
        first = [float(m.group(2)) for m in map(_ROW.match, r.stdout.splitlines()) if m][0]
        assert first < 30, r.stdout


def test_the_real_package_is_not_used(tmp_path):
    # Debian's python3.11 has memory_profiler 0.61 installed.
    code = 'import memory_profiler, sys; print(memory_profiler.__file__, "psutil" in sys.modules)'
    r = subprocess.run([DEBIAN_PYTHON, '-c', code], env=env_for(True), cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == 'None False\n', r.stdout + r.stderr
    off = subprocess.run([DEBIAN_PYTHON, '-c', code], env=env_for(True, MEMPROF_COMPAT='0'),
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert off.stdout.startswith('/usr/lib/python3/dist-packages/memory_profiler.py True'), \
        off.stdout + off.stderr


# importlib.import_module raises no "import" audit event; __import__ does.
# Each way, in a fresh process, gets memprof's module (no __file__, no
# psutil), the one sys.modules holds, and a working profile; MEMPROF_COMPAT=0
# gives back the real package (Debian) or ModuleNotFoundError (pyenv).
IMPORTS = {'import_module': 'import importlib\nm = importlib.import_module("memory_profiler")\n',
           '__import__': 'm = __import__("memory_profiler")\n'}
USE = (
    'import sys\n'
    'print(m.__file__, "psutil" in sys.modules, sys.modules["memory_profiler"] is m)\n'
    'import memory_profiler\n'
    'print(memory_profiler is m)\n'
    'def grow():\n'
    '    a = [0] * (10 ** 7)\n'
    '    return len(a)\n'
    'm.profile(grow)()\n')


@pytest.mark.parametrize('spec', INTERPRETERS + [pytest.param(('pyenv', 8), id='pyenv-3.8')])
@pytest.mark.parametrize('how', sorted(IMPORTS))
def test_importlib_and_dunder_import_are_served(how, spec, tmp_path):
    python = interpreter(spec)
    (tmp_path / 'served.py').write_text(IMPORTS[how] + USE)
    r = subprocess.run([python, 'served.py'], env=env_for(True), cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head, _, table_text = r.stdout.partition('Filename: ')
    assert head == 'None False True\nTrue\n', r.stdout
    assert table_text.startswith(('served.py\n', str(tmp_path / 'served.py\n'))), r.stdout
    (table,) = parse_tables('Filename: ' + table_text)
    row = 8 if how == 'import_module' else 7
    assert 70 < table.row(row).inc < 84, r.stdout      # 10**7 pointers: 76.3 MiB
    off = subprocess.run([python, '-c', IMPORTS[how] + 'print(m.__file__)'],
                         env=env_for(True, MEMPROF_COMPAT='0'), cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    if python == DEBIAN_PYTHON:
        assert off.stdout == '/usr/lib/python3/dist-packages/memory_profiler.py\n', off.stderr
    else:
        assert off.returncode == 1 and 'ModuleNotFoundError' in off.stderr, off.stderr


@pytest.mark.parametrize('spec', INTERPRETERS[1:])
def test_without_memprof_there_is_no_memory_profiler(spec, tmp_path):
    python = interpreter(spec)
    for agent, extra in ((False, {}), (True, {'MEMPROF_COMPAT': '0'})):
        r = run(python, 'explicit_import.py', agent, tmp_path, **extra)
        assert r.returncode == 1 and 'ModuleNotFoundError' in r.stderr, r.stderr


@pytest.mark.parametrize('spec', INTERPRETERS)
def test_only_the_module_asked_for_appears(spec, tmp_path):
    python = interpreter(spec)
    code = ('import sys\nbefore = set(sys.modules)\nimport memory_profiler\n'
            'print(sorted(set(sys.modules) - before))\n')
    r = subprocess.run([python, '-c', code], env=env_for(True), cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "['memory_profiler']\n", r.stdout + r.stderr
    # A program that does not import it never sees it.
    code = 'import sys; print("memory_profiler" in sys.modules, len(sys.meta_path))'
    plain = subprocess.run([python, '-c', code], env=env_for(False), capture_output=True,
                           text=True, timeout=60)
    under = subprocess.run([python, '-c', code], env=env_for(True), cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert under.stdout == plain.stdout and plain.stdout.startswith('False ')


def test_under_the_launcher_tables_come_at_the_end(tmp_path):
    r = subprocess.run([str(LAUNCHER), '-o', str(tmp_path / 't.jsonl'), DEBIAN_PYTHON,
                        'explicit_import.py'], cwd=COMPAT, env=env_for(False),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    head, sep, tables = r.stdout.partition('Filename: ')
    assert sep and 'between calls' in head and 'doc Allocates' in head
    parsed = parse_tables(sep + tables)
    # One table per function, the two calls of grow_and_free summed.
    assert [t.first for t in parsed] == [4, 17]
    assert parsed[0].row(8).occurrences == 2 and 300 < parsed[0].row(8).inc < 310


def timestamps_of_memory_profiler(program):
    # `python -m memory_profiler --timestamp` (what mprof run runs): a FUNC
    # line per span, "FUNC .NAME mem0 t0 mem1 t1 level".
    r = subprocess.run([ORACLE_PYTHON, '-m', 'memory_profiler', '--timestamp', program.name],
                       cwd=program.parent, env=env_for(False), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    spans = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == 'FUNC' and f[1].startswith('.'):
            spans[f[1][1:]] = (float(f[4]) - float(f[2]), float(f[5]) - float(f[3]), int(f[6]))
    return spans


@pytest.mark.parametrize('spec', INTERPRETERS)
def test_profile_timestamp_spans_as_memory_profilers(spec, tmp_path):
    # The builtin's profile.timestamp(name), as mprof run's: one trace
    # record per span with its RSS at both ends, compared with
    # memory_profiler 0.61's FUNC lines for the same program.
    program = tmp_path / 'timestamps.py'
    program.write_text((ROOT / 'examples' / 'timestamps.py').read_text())
    expected = timestamps_of_memory_profiler(program)
    assert sorted(expected) == ['free', 'load', 'parse']
    r = subprocess.run([interpreter(spec), program.name], cwd=tmp_path,
                       env=env_for(True, MEMPROF_OUTPUT=str(tmp_path / 't.jsonl')),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == '' and r.stderr == '', r.stderr
    records = [json.loads(line) for line in (tmp_path / 't.jsonl').read_text().splitlines()
               if '"k":"timestamp"' in line]
    mine = {t['name']: ((t['rss1'] - t['rss0']) / 1048576, (t['t1'] - t['t0']) / 1e9, t['depth'])
            for t in records}
    assert [t['name'] for t in records] == ['parse', 'load', 'free']     # as they end
    for name, (mem, secs, depth) in expected.items():
        got = mine[name]
        assert got[2] == depth, (name, got, expected)
        assert abs(got[0] - mem) < 4, (name, got, expected)      # MiB
        assert got[1] >= 0.05 and secs >= 0.05
    # One record per call of a decorated function too (memprof's addition).
    (tmp_path / 'deco.py').write_text(
        '@profile.timestamp("step")\ndef step():\n    return 1\nstep(); step()\n'
        'from memory_profiler import profile as p\nwith p.timestamp("imported"):\n    pass\n')
    (tmp_path / 't.jsonl').unlink()
    r = subprocess.run([interpreter(spec), 'deco.py'], cwd=tmp_path,
                       env=env_for(True, MEMPROF_OUTPUT=str(tmp_path / 't.jsonl')),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    names = [json.loads(line)['name'] for line in (tmp_path / 't.jsonl').read_text().splitlines()
             if '"k":"timestamp"' in line]
    assert names == ['step', 'step', 'imported']
