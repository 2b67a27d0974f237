"""Per-line figures in child processes are those of a plain run (issue 9).

A multiprocessing Pool worker (fork, spawn and forkserver) and an
os.fork() child each get a section of the trace and their own table.  The
same function, run once in a worker and once in a plain process, must give
the same table: the same Occurrences on every row, and Increments within
1.5 MiB + 10% of each other (the decorator row aside: it is charged
against 0, an absolute level that differs between processes).  A child
starts with its parent's memory image, so a figure that leaked the
parent's state into the child (its last RSS, its trace mapping, its
buffers) shows here.
"""
import pytest

from memprof_harness import parse_tables, run_report
from test_agent import INTERPRETERS, agent_env, interpreter, run

ABS_TOLERANCE = 1.5     # MiB
REL_TOLERANCE = 0.10

WORK = '''\
import multiprocessing as mp
import os
import sys


@profile
def work(n):
    squares = [i * i for i in range(n)]
    total = 0
    for s in squares:
        total += s
    block = [0] * (5 * 10**6)
    del block
    kept = {i: str(i) for i in range(n // 10)}
    return total + len(kept)


if __name__ == '__main__':
    how = sys.argv[1]
    if how == 'plain':
        work(20000)
    elif how == 'fork-child':
        pid = os.fork()
        if pid == 0:
            work(20000)
            os._exit(0)
        os.waitpid(pid, 0)
    else:
        # One task per worker process, so each worker's table is one call.
        with mp.get_context(how).Pool(2, maxtasksperchild=1) as pool:
            pool.map(work, [20000, 20000], chunksize=1)
'''


def tables_of(tmp_path, python, how):
    trace = tmp_path / ('%s.jsonl' % how)
    out = run([python, 'work.py', how], tmp_path, agent_env(trace))
    assert (out.returncode, out.stdout, out.stderr) == (0, '', ''), out.stderr
    report = run_report(trace, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    return report.stdout, [t for t in parse_tables(report.stdout) if t.first == 6]


def compare(plain, child):
    failures = []
    for p, c in zip(plain.rows, child.rows):
        if (p.lineno, p.measured) != (c.lineno, c.measured):
            failures.append('line %d: rows differ' % p.lineno)
        elif p.measured and p.occurrences != c.occurrences:
            failures.append('line %d: Occurrences %d, plain %d' % (p.lineno, c.occurrences,
                                                                   p.occurrences))
        elif p.measured and p is not plain.rows[0]:
            tol = ABS_TOLERANCE + REL_TOLERANCE * abs(p.inc)
            if abs(c.inc - p.inc) > tol:
                failures.append('line %d: Increment %.3f MiB, plain %.3f (tolerance %.3f)'
                                % (p.lineno, c.inc, p.inc, tol))
    return failures


@pytest.mark.parametrize('how', ['fork', 'spawn', 'forkserver', 'fork-child'])
@pytest.mark.parametrize('spec', INTERPRETERS)
def test_child_tables_match_a_plain_run(spec, how, tmp_path):
    python = interpreter(spec)
    (tmp_path / 'work.py').write_text(WORK)
    plain_text, plain = tables_of(tmp_path, python, 'plain')
    assert len(plain) == 1, plain_text
    text, children = tables_of(tmp_path, python, how)
    assert len(children) == (1 if how == 'fork-child' else 2), text
    # The 38 MiB block: allocated on line 12 and freed on line 13, in
    # every process.
    block = 5 * 10**6 * 8 / 2**20
    assert abs(plain[0].row(12).inc - block) < 0.1 * block, plain_text
    for child in children:
        failures = compare(plain[0], child)
        assert not failures, '%s worker:\n  %s\n\nchild:\n%s\nplain:\n%s' % (
            how, '\n  '.join(failures), text, plain_text)
