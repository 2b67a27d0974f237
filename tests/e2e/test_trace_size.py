"""What a trace leaves on disk (issue 12, "What it leaves behind").

- A process that exits gives back the padding of its last region: a
  six-event trace is its records and nothing else.
- Several processes (a fork child, the parent, an exec'd child, one that
  outlives the parent): the launcher's compaction leaves no padding record
  and the report reads the same before and after.
- A trace past MEMPROF_SIZE_NOTE bytes gets one line saying that
  --aggregate keeps long runs small.
"""
import json
import re
import os
import shutil
import subprocess
import sys
import time

import pytest

from memprof_harness import AGENT, AGENT_PYTHON, REPORT, ROOT, clean_env, run_report

LAUNCHER = ROOT / 'build' / 'memprof'
PAD = '"k":"pad"'

SIX = '''\
@profile
def f():
    a = 1
    b = [0] * 10
    return a


f()
'''

# The parent forks a child that execs this script again; the parent exits
# while a child it forked at the end still runs, so that the parent's last
# region is followed by a region being written: its padding stays until
# the run is over.
FAMILY = '''\
import os, sys, time


@profile
def work(n):
    a = [0] * n
    return len(a)


if sys.argv[1:] == ['exec']:
    work(1000)
    sys.exit(0)
work(100000)
pid = os.fork()
if pid == 0:
    work(200000)
    os.execv(sys.executable, [sys.executable, __file__, 'exec'])
os.waitpid(pid, 0)
r, w = os.pipe()
if os.fork() == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)        # the run (and the test's pipes) end with the parent
    os.dup2(null, 2)
    work(3000)
    os.write(w, b'x')       # its region is mapped now
    time.sleep(0.6)
    work(4000)
    os._exit(0)
os.read(r, 1)
work(300000)
'''


def run_bare(tmp_path, source, extra=None, name='trace.jsonl'):
    script = tmp_path / 'prog.py'
    script.write_text(source)
    trace = tmp_path / name
    env = clean_env({'LD_PRELOAD': str(AGENT), 'MEMPROF_OUTPUT': str(trace)})
    env.update(extra or {})
    proc = subprocess.run([AGENT_PYTHON, 'prog.py'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return trace, proc


def content_bytes(trace):
    """Bytes of the records that are not padding."""
    with open(trace, 'rb') as f:
        return sum(len(line) for line in f if PAD.encode() not in line)


@pytest.mark.parametrize('sampler', ['sampler-on', 'sampler-off'])
def test_six_event_trace_is_its_records(tmp_path, sampler):
    extra = {'MEMPROF_INTERVAL': 'off'} if sampler == 'sampler-off' else {}
    trace, proc = run_bare(tmp_path, SIX, extra)
    assert proc.stderr == ''
    text = trace.read_text()
    events = [line for line in text.splitlines() if line.startswith('[') and not line.startswith('[3,')]
    assert len(events) == 5, text     # call, three lines, return
    assert PAD not in text
    # Every byte is a record: no region left, no padding after the end.
    assert trace.stat().st_size == content_bytes(trace) < 2048
    assert text.endswith('\n')
    rep = run_report(trace)
    assert rep.returncode == 0, rep.stderr
    assert 'b = [0] * 10' in rep.stdout


def wait_for_stray(trace, timeout=10):
    """The forked grandchild outlives its parent: wait for its end record."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if trace.read_text().count('"k":"end"') >= 3:
            return
        time.sleep(0.05)
    raise AssertionError('the stray child did not finish:\n' + trace.read_text()[-2000:])


def report_json(trace):
    rep = run_report(trace, '--format', 'json')
    assert rep.returncode == 0, rep.stderr
    return json.loads(rep.stdout.replace(str(trace), 'TRACE'))


def test_family_compacts_to_the_same_report(tmp_path):
    trace, proc = run_bare(tmp_path, FAMILY)
    wait_for_stray(trace)
    before = trace.read_text()
    # The parent's padding is followed by the stray child's region.
    assert before.count(PAD) >= 1, 'no padding was left: the test no longer checks compaction'
    headers = [json.loads(l) for l in before.splitlines() if l.startswith('{"k":"memprof"')]
    assert len(headers) == 4      # parent, fork child, its exec'd image, the stray child
    kept = tmp_path / 'before.jsonl'
    shutil.copy(trace, kept)
    out = subprocess.run([str(LAUNCHER), '--compact', str(trace)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == '', out.stderr
    after = trace.read_text()
    assert PAD not in after
    assert trace.stat().st_mode & 0o777 == 0o600
    # Only padding records went: every other line is there, in order.
    assert after.splitlines() == [l for l in before.splitlines() if PAD not in l]
    assert len(after) < len(before) - 30000
    assert report_json(trace) == report_json(kept)
    text_before, text_after = run_report(kept), run_report(trace)
    assert text_after.stdout == text_before.stdout and text_after.stdout
    assert text_after.stderr.replace(str(trace), 'T') == text_before.stderr.replace(str(kept), 'T')


def test_compact_waits_for_a_process_that_still_writes(tmp_path):
    # A child still mapping the trace: compaction would lose what it
    # writes next, so the file is left alone and the launcher says why.
    source = FAMILY.replace('time.sleep(0.6)', 'time.sleep(3)')
    trace, _ = run_bare(tmp_path, source)
    before = trace.read_bytes()
    assert PAD.encode() in before
    out = subprocess.run([str(LAUNCHER), '--compact', str(trace)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and 'still writes it' in out.stderr, out.stderr
    wait_for_stray(trace)
    assert trace.read_bytes().startswith(before[:1000])


def test_launcher_leaves_no_padding(tmp_path):
    (tmp_path / 'prog.py').write_text(FAMILY.replace('time.sleep(0.6)', 'time.sleep(0)'))
    env = clean_env({'MEMPROF_PYTHON': AGENT_PYTHON})
    out = subprocess.run([str(LAUNCHER), '-o', 'run.jsonl', 'prog.py'], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / 'run.jsonl').read_text()
    assert text.count('{"k":"memprof"') >= 3
    # The stray child may still run when the launcher's command ends: its
    # region keeps its padding then; nothing else does.
    if text.count('"k":"end"') >= 3:
        assert PAD not in text, text[:3000]
    assert 'the trace is' not in out.stderr


def test_size_note(tmp_path):
    (tmp_path / 'prog.py').write_text(SIX)
    env = clean_env({'MEMPROF_PYTHON': AGENT_PYTHON, 'MEMPROF_SIZE_NOTE': '100'})
    out = subprocess.run([str(LAUNCHER), '-o', 'run.jsonl', 'prog.py'], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    notes = [l for l in out.stderr.splitlines() if 'keeps long runs small' in l]
    assert len(notes) == 1, out.stderr
    assert re.fullmatch(r'memprof: the trace is \d+ MiB: --aggregate \(MEMPROF_AGGREGATE=1\) keeps '
                        r'long runs small, tables instead of every event', notes[0])
    # Under the limit, or with --aggregate: no note.
    env['MEMPROF_SIZE_NOTE'] = str(1 << 20)
    out = subprocess.run([str(LAUNCHER), '-f', '-o', 'run.jsonl', 'prog.py'], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert 'keeps long runs small' not in out.stderr
    env['MEMPROF_SIZE_NOTE'] = '100'
    out = subprocess.run([str(LAUNCHER), '--aggregate', '-f', '-o', 'run.jsonl', 'prog.py'],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert 'keeps long runs small' not in out.stderr


KILLED = '''\
import os, signal


@profile
def work(n):
    a = [0] * n
    os.kill(os.getpid(), signal.SIGKILL)
    return len(a)


work(100000)
'''


def test_compact_keeps_what_a_kill_left(tmp_path):
    script = tmp_path / 'prog.py'
    script.write_text(KILLED)
    trace = tmp_path / 'trace.jsonl'
    env = clean_env({'LD_PRELOAD': str(AGENT), 'MEMPROF_OUTPUT': str(trace)})
    proc = subprocess.run([AGENT_PYTHON, 'prog.py'], cwd=tmp_path, env=env, capture_output=True,
                          timeout=60)
    assert proc.returncode == -9
    lines = trace.read_text().split('\n')
    pad = [i for i, l in enumerate(lines) if l.startswith('{"k":"pad"')]
    assert pad, 'a killed process leaves its padding'
    # As if the kill had come in the middle of a record: its start, then
    # the padding's spaces and end.
    cut = '[0,1,5,12'
    lines[pad[-1]] = cut + ' ' * (len(lines[pad[-1]]) - len(cut) - 2) + '"}'
    trace.write_text('\n'.join(lines))
    before = run_report(trace)
    out = subprocess.run([str(LAUNCHER), '--compact', str(trace)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stderr == '', out.stderr
    after = run_report(trace)
    text = trace.read_text()
    assert PAD not in text and cut + ' "}\n' in text
    assert len(text) < 1000
    assert after.stdout == before.stdout and 'a = [0] * n' in after.stdout
    for rep in (before, after):
        assert 'truncated record (the process was probably killed while writing it)' in rep.stderr


LOOP = '''\
@profile
def f():
    x = 0
    for i in range(20000):
        x += 1
    return x


f()
'''


def test_bytes_per_event_on_a_tight_loop(tmp_path):
    # Format 2 (t and RSS as changes within a chunk): about 11 bytes an
    # event where format 1 took 25 to 28 (README, "Events").
    trace, _ = run_bare(tmp_path, LOOP, {'MEMPROF_INTERVAL': 'off'})
    with open(trace, 'rb') as f:
        events = [l for l in f if l.startswith((b'[0,', b'[1,', b'[2,'))]
    assert len(events) == 40005      # call, x = 0, 20001 + 20000 loop lines, return x, return
    per_event = sum(map(len, events)) / len(events)
    assert per_event < 13.5, per_event
    # The whole file: events and the definitions, nothing reserved.
    assert trace.stat().st_size < 14 * len(events)
    rep = run_report(trace)
    assert rep.returncode == 0 and '      20000           x += 1' in rep.stdout, rep.stdout


# A region another process is writing at the moment this one exits: its
# padding's head is overwritten by the record being written, which ends
# before the head is written again after it. The program appends such a
# region to its own trace (a stand-in for a sibling caught in that
# instant, under the trace's lock as the agent's appends are), then exits.
LIVE_NEIGHBOUR = '''\
import fcntl, os, struct


@profile
def neighbour_is_written():
    return bytearray(4096)


neighbour_is_written()
region = b'{"k":"pid","pid":4}\\n[0,1,2,3]\\n[0,1,' + b' ' * 300 + b'"}\\n'
fd = os.open(os.environ['MEMPROF_OUTPUT'], os.O_WRONLY | os.O_APPEND)
lock = struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0)
fcntl.fcntl(fd, 38, lock)               # F_OFD_SETLKW
os.write(fd, region)
os.write(1, b'%d\\n' % (os.fstat(fd).st_size - len(region)))
os.close(fd)
'''


def test_a_live_neighbour_region_is_not_moved(tmp_path):
    """The region after ours is moved down over our padding only when it
    is no region: one being written (no padding head at that instant) is
    left where its writer's mapping puts its records. Moving it made its
    writer's later records land past the file's new end (SIGBUS in the
    writer, a Pool that never returned) or twice in the file (a worker
    killed during the move: Occurrences 2311 instead of 2001)."""
    trace, proc = run_bare(tmp_path, LIVE_NEIGHBOUR, {'MEMPROF_INTERVAL': 'off'})
    at = int(proc.stdout)
    data = trace.read_bytes()
    assert data[at:].startswith(b'{"k":"pid","pid":4}\n[0,1,2,3]\n[0,1,   '), (at, data[-400:])
    assert data.endswith(b'   "}\n') and len(data) == at + 20 + 10 + 5 + 300 + 3, (len(data), at)
