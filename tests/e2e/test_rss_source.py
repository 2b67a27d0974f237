"""The RSS sources (MEMPROF_RSS, collector/rss.h): the kmem:rss_stat
tracepoint must give exactly statm's figure at every event.

MEMPROF_RSS=check (for tests) reads both at every event, records statm's and
counts the events where the tracepoint's differed (a {"k":"rss_check"}
record at the end of each process's section). The program touches, frees,
touches again and madvise(MADV_DONTNEED)s memory from the main thread and
from other threads, with transparent huge pages off, and forks a child
that does the same. Where the tracepoint cannot be had (not root, tracefs
not mounted, perf_event_open refused) the tests that need it skip loudly;
the fallback to statm is tested everywhere.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from memprof_harness import (AGENT, HERE, clean_env, parse_tables, read_trace, run_memprof,
                             unreachable_by_others)

PROGRAM = HERE / 'rss' / 'touch_threads.py'


def headers(trace):
    return [r for r in read_trace(trace) if isinstance(r, dict) and r.get('k') == 'memprof']


def probe(tmp_path_factory):
    run = run_memprof(PROGRAM, tmp_path_factory.mktemp('probe'), args=['0'],
                      env={'MEMPROF_RSS': 'tracepoint'}, report=False)
    assert run.proc.returncode == 0, run.proc.stderr
    return headers(run.trace)[0].get('rss')


@pytest.fixture(scope='module')
def fast_path(tmp_path_factory):
    source = probe(tmp_path_factory)
    if source != 'tracepoint':
        why = ('not root' if os.geteuid() != 0 else
               'tracefs not mounted' if not os.path.exists('/sys/kernel/tracing/events/kmem/rss_stat/id')
               else 'perf_event_open refused')
        pytest.skip('memprof e2e: the kmem:rss_stat tracepoint cannot be had here (%s): '
                    'the fast RSS path is untested' % why)
    return source


def test_check_mode_agrees_at_every_event(fast_path, tmp_path):
    run = run_memprof(PROGRAM, tmp_path, args=['3'],
                      env={'MEMPROF_RSS': 'check', 'TOUCH_FORK': '1'})
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.proc.stderr == ''
    records = read_trace(run.trace)
    assert [h['rss'] for h in headers(run.trace)] == ['check', 'check']   # parent, child
    checks = [r for r in records if isinstance(r, dict) and r.get('k') == 'rss_check']
    assert len(checks) == 2, checks
    for c in checks:
        assert c['events'] >= 150, c
        assert c['disagreements'] == 0, c
        assert c['lost'] == 0, c
    # Every reading of the trace was compared: line and return events, and
    # each process's first call (later calls repeat the last reading).
    readings = sum(1 for r in records if isinstance(r, list) and r[0] in (0, 2))
    assert readings <= sum(c['events'] for c in checks) <= readings + 2
    assert run.report.returncode == 0, run.report.stderr
    assert parse_tables(run.report.stdout)


def test_tracepoint_named_in_header_and_tables_read(fast_path, tmp_path):
    run = run_memprof(PROGRAM, tmp_path, args=['1'], env={'TOUCH_FORK': '1'})
    assert run.proc.returncode == 0, run.proc.stderr
    assert [h['rss'] for h in headers(run.trace)] == ['tracepoint', 'tracepoint']
    assert not any(isinstance(r, dict) and r.get('k') in ('rss', 'rss_check')
                   for r in read_trace(run.trace))
    assert run.report.returncode == 0, run.report.stderr
    tables = parse_tables(run.report.stdout)
    # The child's 32 MiB bytearray shows in its table as in the parent's.
    assert len(tables) >= 2


def test_statm_when_asked(tmp_path):
    run = run_memprof(PROGRAM, tmp_path, args=['1'], env={'MEMPROF_RSS': 'statm'})
    assert run.proc.returncode == 0, run.proc.stderr
    assert [h['rss'] for h in headers(run.trace)] == ['statm']


def test_statm_without_tracefs_is_silent(tmp_path):
    """Not root: perf_event_open refuses raw tracepoint samples (or the id
    cannot be read); the events come from statm and nothing is said."""
    if os.geteuid() != 0:
        pytest.skip('memprof e2e: needs root to drop to another user')
    closed = unreachable_by_others(AGENT, PROGRAM)
    if closed:
        pytest.skip('SKIPPED LOUDLY: memprof e2e: nobody cannot reach %s (mode %o)'
                    % (closed, os.stat(closed).st_mode & 0o777))
    work = tempfile.mkdtemp(prefix='memprof-rss-')    # reachable by nobody
    os.chmod(work, 0o777)
    out = os.path.join(work, 'trace.jsonl')
    env = clean_env({'LD_PRELOAD': str(AGENT), 'MEMPROF_OUTPUT': str(out), 'MEMPROF_RSS': 'auto'})
    proc = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                           '/usr/bin/python3.11', str(PROGRAM), '1'],
                          env=env, capture_output=True, text=True, timeout=60, cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
    assert [h['rss'] for h in headers(out)] == ['statm']
    shutil.rmtree(work)


def test_bad_value_one_warning(tmp_path):
    run = run_memprof(PROGRAM, tmp_path, args=['0'], env={'MEMPROF_RSS': 'fast'}, report=False)
    assert run.proc.returncode == 0
    assert run.proc.stderr.count('memprof: warning: MEMPROF_RSS must be') == 1, run.proc.stderr


def test_lost_records_fall_back_to_statm(fast_path, tmp_path):
    """A full ring drops records and says so only once there is room again:
    the fullness itself must send the reading to statm (one disagreement
    before that was handled)."""
    run = run_memprof(HERE / 'rss' / 'burst.py', tmp_path, env={'MEMPROF_RSS': 'check'})
    assert run.proc.returncode == 0, run.proc.stderr
    checks = [r for r in read_trace(run.trace) if isinstance(r, dict) and r.get('k') == 'rss_check']
    assert len(checks) == 1, checks
    assert checks[0]['lost'] >= 1, checks        # the burst did overflow the ring
    assert checks[0]['disagreements'] == 0, checks
    rows = {r.lineno: r for r in parse_tables(run.report.stdout)[0].rows if r.measured}
    assert 599.5 < max(r.inc for r in rows.values()) < 601, run.report.stdout


def peak_excess(trace, line):
    """For each event of that line (the one after the line measured), how
    far the interval's peak rose above the RSS at its end, in MiB (events
    are [kind, code, line, rss, t, peak]); and the number of line and
    return events."""
    events = [e for e in read_trace(trace) if isinstance(e, list) and e[0] in (0, 2)]
    return [(e[5] - e[3]) / 2**20 for e in events if e[2] == line], len(events)


def getrusage_calls(run_dir, env):
    """The program under strace: (getrusage calls, its trace)."""
    out = run_dir / 'strace.txt'
    trace = run_dir / 'trace.jsonl'
    proc = subprocess.run(['strace', '-f', '-e', 'trace=getrusage', '-o', str(out),
                           '/usr/bin/python3.11', str(HERE / 'rss' / 'spikes.py'), '200'],
                          env=clean_env({'LD_PRELOAD': str(AGENT), 'MEMPROF_OUTPUT': str(trace),
                                         'MEMPROF_PEAK': '1', **env}),
                          capture_output=True, text=True, timeout=120, cwd=run_dir)
    assert proc.returncode == 0 and proc.stderr == '', proc.stderr
    return out.read_text().count('getrusage('), trace


def test_peak_from_the_records(fast_path, tmp_path):
    """MEMPROF_PEAK=1 on the tracepoint: the peak of each interval is the
    highest sum the records went through, no system call per event; the
    kernel's high-water mark only where records were lost (the 400 MiB
    line). Its figures are those of the high-water mark (the statm run)."""
    if not shutil.which('strace'):
        pytest.skip('memprof e2e: no strace')
    (tmp_path / 'tp').mkdir()
    (tmp_path / 'statm').mkdir()
    fast_calls, fast = getrusage_calls(tmp_path / 'tp', {})
    slow_calls, slow = getrusage_calls(tmp_path / 'statm', {'MEMPROF_RSS': 'statm'})
    assert [h['rss'] for h in headers(fast)] == ['tracepoint']
    source = (HERE / 'rss' / 'spikes.py').read_text().splitlines()
    # An event's peak is that of the line before it: the lines after them.
    loop = 2 + next(i for i, t in enumerate(source) if 'n += touched(' in t)
    after = [2 + i for i, t in enumerate(source) if '= touched(' in t and 'n +=' not in t]
    a, events = peak_excess(fast, loop)
    b, events_statm = peak_excess(slow, loop)
    assert events == events_statm >= 400 and len(a) == 200
    # The statm run asks the kernel's mark at every event; the tracepoint
    # run at its start and after the lost records only.
    assert slow_calls >= events, slow_calls
    assert fast_calls <= 4, fast_calls
    # Every 1-4 MiB temporary, less at most what the counters keep per CPU:
    # the records carry the counter without the per-CPU parts (up to 32
    # pages per CPU and counter), and a thread moved to another CPU in the
    # middle of a line leaves its part behind there (seen: 2.68 MiB of a
    # 3 MiB temporary on a loaded machine, 82 pages short).
    residue = 2 * 32 * (os.cpu_count() or 1) * 4096 / 2**20
    for i, x in enumerate(a):
        assert x >= 1 + i % 4 - residue, (i, x, residue)
    # The kernel's mark is taken from the RSS counters without their
    # per-CPU parts (up to 32 pages each, per CPU and counter): it can
    # only be lower.
    for x, y in zip(a, b):
        assert -1 / 256 <= x - y < 1, (x, y)
    big, _ = peak_excess(fast, after[0])
    burst, _ = peak_excess(fast, after[1])
    assert big[0] >= 200 and max(burst) >= 399, (big, burst)


def test_no_perf_event_unless_something_is_profiled(fast_path, tmp_path):
    """The header names the tracepoint in every traced Python process, but
    only a process that profiles something opens a perf event: opening and
    closing a tracepoint's first and last perf event make the kernel hook
    and unhook it, tens of milliseconds each."""
    if not shutil.which('strace'):
        pytest.skip('memprof e2e: no strace')
    counts = {}
    for name, code in (('nothing', 'pass'), ('something', 'profile(lambda: 1)()')):
        out = tmp_path / ('%s.strace' % name)
        trace = tmp_path / ('%s.jsonl' % name)
        proc = subprocess.run(['strace', '-f', '-e', 'trace=perf_event_open', '-o', str(out),
                               '/usr/bin/python3.11', '-c', code],
                              env=clean_env({'LD_PRELOAD': str(AGENT), 'MEMPROF_OUTPUT': str(trace)}),
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 0 and proc.stderr == '', proc.stderr
        assert [h['rss'] for h in headers(trace)] == ['tracepoint']
        counts[name] = out.read_text().count('perf_event_open(')
    assert counts['nothing'] == 0, counts
    assert counts['something'] >= os.cpu_count(), counts
