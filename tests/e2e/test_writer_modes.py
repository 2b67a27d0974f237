"""The RSS the agent records is the program's, whichever way the trace is
written (issue 9).

On a line that allocates nothing, consecutive events must report the same
RSS: the trace's own buffers and mapped file pages are resident memory of
the process, and any part of them that became resident while the program
ran would be charged to whatever line was running (memory_profiler's rule
compares each line with the previous line's largest value, so a one-page
blip repeated 100,000 times reads -1,360 MiB).  Every writer: the mapped
file (default), MEMPROF_FD to a file and to a pipe with a reader, the
aggregating mode alone and with events; the sampler on and off; every
interpreter present and a C program embedding Python.
"""
import os
import shutil
import subprocess
import threading

import pytest

from memprof_harness import clean_env, parse_tables, run_report
from test_agent import AGENT, INTERPRETERS, build_embedder, interpreter
import trace_format

# The loop of issue 9: 100,000 iterations under the defaults, as the issue
# gives it, 30,000 in the other modes (1.7 MB of events, far more than the
# trace's buffers and regions hold, 64 KiB and 32 KiB, so each is refilled
# many times).
def iterations(writer, sampler):
    return 100000 if (writer, sampler) == ('mapped', 'sampler-on') else 30000


IDLE = '''\
@profile
def f():
    x = 0
    for i in range(%d):
        x += 1
    return x


f()
'''
IDLE_ROWS = (3, 4, 5, 6)
# Events before the loop has settled (the interpreter's first iterations
# may still touch a page of its own).
WARM_UP = 200

WRITERS = {
    'mapped': {},
    'fd-file': {'fd': 'file'},
    'fd-pipe': {'fd': 'pipe'},
    'aggregate': {'MEMPROF_AGGREGATE': '1'},
    'aggregate-both': {'MEMPROF_AGGREGATE': 'both'},
}
SAMPLERS = {'sampler-on': {}, 'sampler-off': {'MEMPROF_INTERVAL': 'off'}}


def run_idle(cmd, cwd, trace, writer, sampler):
    env = {'LD_PRELOAD': str(AGENT)}
    env.update({k: v for k, v in WRITERS[writer].items() if k != 'fd'})
    env.update(SAMPLERS[sampler])
    fd_kind = WRITERS[writer].get('fd')
    pass_fds, close_after, reader = (), [], None
    if fd_kind == 'file':
        out = open(trace, 'wb')
        env['MEMPROF_FD'] = str(out.fileno())
        pass_fds, close_after = (out.fileno(),), [out]
    elif fd_kind == 'pipe':
        r, w = os.pipe()
        env['MEMPROF_FD'] = str(w)
        pass_fds = (w,)

        def drain():
            with open(r, 'rb') as src, open(trace, 'wb') as dst:
                shutil.copyfileobj(src, dst)
        reader = threading.Thread(target=drain)
        reader.start()
        close_after = [w]
    else:
        env['MEMPROF_OUTPUT'] = str(trace)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=clean_env(env), capture_output=True,
                              text=True, timeout=120, pass_fds=pass_fds)
    finally:
        for c in close_after:
            os.close(c) if isinstance(c, int) else c.close()
        if reader:
            reader.join(60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, '', ''), proc.stderr
    return proc


def events_of(trace):
    """The events and samples, in format 1's terms."""
    return [r for r in trace_format.read_trace(trace) if isinstance(r, list)]


def check_idle(trace, cwd, writer, n):
    report = run_report(trace, cwd=cwd)
    assert report.returncode == 0, report.stderr
    tables = parse_tables(report.stdout)
    assert len(tables) == 1, report.stdout
    for line in IDLE_ROWS:
        row = tables[0].row(line)
        assert abs(row.inc) < 0.0005, (
            'line %d of the idle loop: Increment %.3f MiB, memory_profiler 0.000 (%s '
            'writer)\n%s' % (line, row.inc, writer, report.stdout))
    assert tables[0].row(4).occurrences == n + 1
    if writer == 'aggregate':
        return
    # The events themselves: one RSS value once the loop has settled.
    events = [e for e in events_of(trace) if e[0] in (0, 2)]
    assert len(events) >= 2 * n, len(events)
    values = sorted({e[3] for e in events[WARM_UP:]})
    assert len(values) == 1, (
        '%s writer: the idle loop recorded %d distinct RSS values after %d events '
        '(%s ... %s bytes)' % (writer, len(values), WARM_UP, values[:3], values[-3:]))


@pytest.mark.parametrize('sampler', list(SAMPLERS))
@pytest.mark.parametrize('writer', list(WRITERS))
@pytest.mark.parametrize('spec', INTERPRETERS)
def test_idle_loop_rss_is_steady(spec, writer, sampler, tmp_path):
    python = interpreter(spec)
    n = iterations(writer, sampler)
    (tmp_path / 'idle.py').write_text(IDLE % n)
    trace = tmp_path / 'trace.jsonl'
    run_idle([python, 'idle.py'], tmp_path, trace, writer, sampler)
    check_idle(trace, tmp_path, writer, n)


@pytest.mark.parametrize('writer', ['mapped', 'fd-file', 'aggregate-both'])
def test_idle_loop_rss_is_steady_in_an_embedder(writer, tmp_path):
    exe = build_embedder(tmp_path)
    n = iterations(writer, 'sampler-on')
    (tmp_path / 'idle.py').write_text(IDLE % n)
    trace = tmp_path / 'trace.jsonl'
    run_idle([str(exe), 'idle.py'], tmp_path, trace, writer, 'sampler-on')
    check_idle(trace, tmp_path, writer, n)

