"""memprof against memory_profiler 0.61, program by program.

Each program in programs/ (not the `_*.py` modules they import) runs under
the oracle (`python3 -m memory_profiler prog.py`, through oracle_shim.py)
and under the agent, and memprof-report must print the same tables:

- the same tables in the same order (Filename, first line);
- the same rows: line numbers, which rows are blank, the source text;
- the same Occurrences on every row;
- the same Increment within 2% on rows where it measures an allocation:
  the oracle's |Increment| is at least 10 MiB and none of the row's
  records was charged against 0 (those fold the process's absolute RSS
  into the Increment, and the oracle's baseline includes IPython).

Mem usage is absolute, so it is not compared.

On failure the message is a unified diff of both tables in a compact form:
line, Occurrences, Increment (`-` where it is measured but not compared;
memprof's value is shown as the oracle's when it is within tolerance), and
the source text.

Run with /usr/bin/python3 (Debian's pytest, memory_profiler):
    /usr/bin/python3 -m pytest -q tests/e2e
"""
import difflib
import subprocess

import pytest

from memprof_harness import (AGENT, ORACLE_PYTHON, PROGRAMS, REPORT,
                             format_tables, parse_tables, run_memprof,
                             run_oracle)


def _no_oracle():
    probe = subprocess.run([ORACLE_PYTHON, '-c', 'import memory_profiler'],
                           capture_output=True)
    if probe.returncode:
        return ('memory_profiler is not importable by %s (apt-get install '
                'python3-memory-profiler python3-psutil)' % ORACLE_PYTHON)
    return None


def _not_built():
    missing = [str(p) for p in (AGENT, REPORT) if not p.exists()]
    if missing:
        return 'not built: %s (run `make` first)' % ', '.join(missing)
    return None


_oracle_reason = _no_oracle()
_reason = _oracle_reason or _not_built()
needs_oracle = pytest.mark.skipif(_oracle_reason is not None,
                                  reason='memprof e2e: %s' % _oracle_reason)
needs_both = pytest.mark.skipif(_reason is not None,
                                reason='memprof e2e: %s' % _reason)


# How many rows per program must have their Increment compared: guards the
# programs (and the oracle) against a silently vacuous comparison.
COMPARED_ROWS = {
    'comprehensions.py': 2,
    'cross_file.py': 3,
    'docstrings.py': 2,
    'else_clause.py': 2,
    'exceptions.py': 6,
    'for_append.py': 2,
    'generator.py': 5,
    'lambdas.py': 2,
    'methods.py': 2,
    'multiline.py': 2,
    'nested_calls.py': 4,
    'recursion.py': 4,
    'repeated.py': 3,
    'unicode_source.py': 2,
    'while_loop.py': 2,
}

# Tables memprof prints and memory_profiler does not, by first line.
# memory_profiler's wrapper returns the generator object untraced, so a
# decorated generator iterated by unprofiled code gets no table from it.
MEMPROF_ONLY = {
    'generator.py': {4},
}

MIN_INCREMENT = 10.0        # MiB
REL_TOLERANCE = 0.02


def program_names():
    return sorted(p.name for p in PROGRAMS.glob('*.py')
                  if not p.name.startswith('_'))


def test_every_program_is_listed():
    assert program_names() == sorted(COMPARED_ROWS)


_runs = {}


def both_runs(name, tmp_path_factory):
    """(oracle run, memprof run) of a program, once per session."""
    if name not in _runs:
        program = PROGRAMS / name
        oracle = run_oracle(program)
        assert oracle.proc.returncode == 0, (
            'the oracle failed on %s:\n%s' % (name, oracle.proc.stderr))
        assert oracle.tables, 'the oracle printed no table for %s' % name
        out_dir = tmp_path_factory.mktemp(name.replace('.', '_'))
        _runs[name] = (oracle, run_memprof(program, out_dir))
    return _runs[name]


def check_memprof_ran(name, run, oracle):
    proc, report = run.proc, run.report
    assert proc.returncode == oracle.proc.returncode == 0, (
        '%s under the agent exited with %d:\n%s'
        % (name, proc.returncode, proc.stderr))
    assert proc.stdout == '', (
        'the program prints nothing; under the agent its stdout was:\n'
        + proc.stdout)
    assert proc.stderr == '', (
        'the agent wrote to stderr:\n' + proc.stderr)
    assert run.trace.exists(), 'no trace at %s' % run.trace
    assert report.returncode == 0, (
        'memprof-report %s exited with %d:\n%s'
        % (run.trace, report.returncode, report.stderr))


def comparable(oracle):
    """Per oracle table, {lineno: oracle Increment} of the rows whose
    Increment is compared."""
    return [{r.lineno: r.inc for r in table.rows
             if r.measured and not base0.get(r.lineno)
             and abs(r.inc) >= MIN_INCREMENT}
            for table, base0 in zip(oracle.tables, oracle.base0)]


def close(got, expected):
    return abs(got - expected) <= REL_TOLERANCE * abs(expected)


def render(tables, compared, reference=None):
    """Compact text of tables for diffing.  `compared` gives, per table of
    `reference` (the oracle's tables), the oracle's Increment of compared
    rows.  When rendering memprof's tables, pass reference: a table takes
    the comparisons of the oracle table with its filename and first line,
    else of the one at its position; a compared Increment within tolerance
    prints as the oracle's, so that only real differences show."""
    lines = []
    keys = [(t.filename, t.first) for t in (reference or tables)]
    for i, t in enumerate(tables):
        key = (t.filename, t.first)
        j = keys.index(key) if key in keys else i
        want = compared[j] if j < len(compared) else {}
        lines.append('Filename: %s' % t.filename)
        for r in t.rows:
            if not r.measured:
                occ = inc = ''
            else:
                occ = str(r.occurrences)
                inc = '-'
                if r.lineno in want:
                    value = r.inc
                    if reference is not None and close(r.inc, want[r.lineno]):
                        value = want[r.lineno]
                    inc = '%.3f MiB' % value
            lines.append('%6d %6s %13s   %s' % (r.lineno, occ, inc, r.text))
        lines.append('')
    return lines


def compare(name, oracle_tables, memprof_tables, compared):
    expected = render(oracle_tables, compared)
    got = render(memprof_tables, compared, reference=oracle_tables)
    if expected == got:
        return
    diff = '\n'.join(difflib.unified_diff(
        expected, got, 'memory_profiler %s' % name, 'memprof %s' % name,
        n=3, lineterm=''))
    pytest.fail(
        'memprof tables differ from memory_profiler for %s\n'
        'columns: line, Occurrences, Increment (compared rows only, within '
        '%d%%; "-" = measured, not compared), source\n\n%s\n\n'
        '--- memprof-report output:\n%s\n--- memory_profiler tables:\n%s'
        % (name, REL_TOLERANCE * 100, diff, format_tables(memprof_tables),
           format_tables(oracle_tables)), pytrace=False)


@needs_both
@pytest.mark.parametrize('name', program_names())
def test_same_tables_as_memory_profiler(name, tmp_path_factory):
    oracle, run = both_runs(name, tmp_path_factory)
    check_memprof_ran(name, run, oracle)
    compared = comparable(oracle)
    assert sum(map(len, compared)) == COMPARED_ROWS[name], (
        'the oracle no longer gives %d comparable Increments for %s'
        % (COMPARED_ROWS[name], name))
    skip = MEMPROF_ONLY.get(name, set())
    tables = [t for t in parse_tables(run.report.stdout)
              if t.first not in skip]
    compare(name, oracle.tables, tables, compared)


@needs_both
def test_decorated_generator_iterated_by_unprofiled_code(tmp_path_factory):
    """generator.py: `blocks(3)` (lines 4-7) is iterated by the module's for
    loop, which frees each block before asking for the next.  memprof
    traces each resumption; memory_profiler does not, but its table for
    `consumed(3)` (lines 10-13, the same generator iterated the same way by
    a profiled function) has the shape memprof's must have."""
    oracle, run = both_runs('generator.py', tmp_path_factory)
    check_memprof_ran('generator.py', run, oracle)
    tables = {t.first: t for t in parse_tables(run.report.stdout)}
    assert 4 in tables, ('no table for the generator blocks() (lines 4-7):\n'
                         + run.report.stdout)
    blocks = tables[4]
    shape = [(r.lineno, r.occurrences) for r in blocks.rows]
    # 4 resumptions (the start and 3 after a yield) and 4 suspensions (3
    # yields and the end): the first line is charged once, the `for` line
    # at each step into the body and at the end (3 + 1), the yield line
    # when it suspends and when it resumes (3 + 3).  `def` is never
    # charged.
    assert shape == [(4, 1), (5, None), (6, 4), (7, 6)], run.report.stdout
    assert [r.text for r in blocks.rows] == [
        '@profile', 'def blocks(count):', '    for i in range(count):',
        '        yield [i] * (5 * 10**6)']
    consumed = next(t for t in oracle.tables if t.first == 10)
    assert [(r.lineno - 6, r.occurrences) for r in consumed.rows] == shape

    block = 5 * 10**6 * 8 / 2**20          # the yielded list, 38.147 MiB
    first, for_line, yield_line = blocks.row(4), blocks.row(6), blocks.row(7)
    facts = [
        # The yield line's maximum is sampled at a suspension, with the
        # block alive; the `for` line only ever runs with the block freed
        # by the consumer, at the memory of the start.
        ('Mem(yield) - Mem(for) is one block',
         close(yield_line.mem - for_line.mem, block)),
        ('Mem(for) - Mem(first line) is not a block',
         abs(for_line.mem - first.mem) < 0.1 * block),
        # memory_profiler's rule: the yield line gains the block at each
        # suspension and loses it at each resumption (charged against its
        # own maximum); the `for` line is charged against that maximum
        # after each resumption: 3 times minus the block.
        ('Increment(yield) is about 0', abs(yield_line.inc) < 0.02 * block),
        ('Increment(for) is -3 blocks', close(for_line.inc, -3 * block)),
    ]
    failed = [what for what, ok in facts if not ok]
    assert not failed, ('blocks(): %s (one block is %.3f MiB); memprof-report:'
                        '\n%s' % ('; '.join(failed), block,
                                  format_tables([blocks])))


@needs_oracle
def test_oracle_shim_prints_what_memory_profiler_prints():
    """The shim runs memory_profiler's own __main__ code; its tables have
    the same shape as those of `python3 -m memory_profiler`."""
    program = PROGRAMS / 'repeated.py'
    shim, plain = run_oracle(program), run_oracle(program, plain=True)
    assert plain.proc.returncode == 0, plain.proc.stderr
    assert ([(t.filename, [(r.lineno, r.occurrences, r.text) for r in t.rows])
             for t in shim.tables] ==
            [(t.filename, [(r.lineno, r.occurrences, r.text) for r in t.rows])
             for t in plain.tables])
    assert shim.base0 == [{3: 4}, {11: 1, 15: 3}]
