"""Run Python programs under memprof and under memory_profiler 0.61 (the
oracle), and read what they print.

Shared by the end-to-end tests: nothing here asserts.  The two sides:

    run = run_memprof(PROGRAMS / 'for_append.py', tmp_path)
    run.proc        # CompletedProcess of the program under the agent
    run.trace       # Path of the trace it wrote
    run.report      # CompletedProcess of `memprof-report TRACE`
    parse_tables(run.report.stdout)

    oracle = run_oracle(PROGRAMS / 'for_append.py')
    oracle.tables   # parsed tables of `python3 -m memory_profiler prog.py`
    oracle.base0    # per table, {lineno: records charged against 0}

Both run from the program's directory with the script given by its bare
name, so that memory_profiler's `Filename:` lines are the same.
"""
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional
import trace_format

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROGRAMS = HERE / 'programs'
AGENT = ROOT / 'build' / 'libmemprof.so'
REPORT = ROOT / 'build' / 'memprof-report'
ORACLE_SHIM = HERE / 'oracle_shim.py'

# The oracle is Debian's memory_profiler, importable by Debian's python3;
# the agent is built against Debian's python3.11 (the same interpreter).
ORACLE_PYTHON = '/usr/bin/python3'
AGENT_PYTHON = '/usr/bin/python3.11'

TIMEOUT = 60

HEADER = 'Line #    Mem usage    Increment  Occurrences   Line Contents'
RULE = '=' * len(HEADER)
# A row's line number is right-aligned in 6; an unmeasured row then has 41
# spaces before the source text.
BLANK_GAP = 41
_MEASURED = re.compile(
    r' +(-?\d+\.\d+) MiB +(-?\d+\.\d+) MiB +(\d+)   (.*)\Z', re.S)


@dataclass
class Row:
    lineno: int
    mem: Optional[float]        # MiB, None on unmeasured rows
    inc: Optional[float]
    occurrences: Optional[int]
    text: str                   # the source line, without its newline

    @property
    def measured(self):
        return self.mem is not None


@dataclass
class Table:
    filename: str
    rows: List[Row] = field(default_factory=list)

    @property
    def first(self):
        """The first line number: with the filename, names the table."""
        return self.rows[0].lineno if self.rows else None

    def row(self, lineno):
        for r in self.rows:
            if r.lineno == lineno:
                return r
        raise KeyError(lineno)


class TableFormatError(ValueError):
    pass


def unreachable_by_others(*paths):
    """The first of PATHS that a user other than its owner cannot reach
    (a directory above it without o+x, or itself without o+r), or None:
    the tests that run the agent as nobody skip on such a checkout (a
    clone inside `mktemp -d`, mode 0700)."""
    for path in paths:
        path = Path(path).resolve()
        if not os.stat(path).st_mode & 0o004:
            return path
        for d in path.parents:
            if not os.stat(d).st_mode & 0o001:
                return d
    return None


def clean_env(extra=None):
    """The environment for a run: ours minus anything that would change
    what the interpreter or the agent does, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('MEMPROF_', 'PYTHON'))
           and k not in ('LD_PRELOAD', 'LD_LIBRARY_PATH')}
    env.update({
        'PYTHONDONTWRITEBYTECODE': '1',
        'PYTHONIOENCODING': 'utf-8',
        'PYTHONHASHSEED': '0',
        'LC_ALL': 'C.UTF-8',
    })
    env.update(extra or {})
    return env


def parse_tables(text):
    """Parse memory_profiler's tables (the default layout) into a list of
    Table, in printed order.  Text outside tables is ignored; a malformed
    table raises TableFormatError.  Several tables may share a filename:
    (filename, first line) names a table."""
    lines = text.split('\n')
    tables = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith('Filename: '):
            i += 1
            continue
        table = Table(lines[i][len('Filename: '):])
        if lines[i + 1:i + 4] != ['', HEADER, RULE]:
            raise TableFormatError('line %d: expected a blank line, the header '
                                   'and the rule after %r' % (i + 2, lines[i]))
        i += 4
        while i < len(lines) and lines[i] != '':
            table.rows.append(parse_row(lines[i], i + 1))
            i += 1
        if lines[i:i + 2] != ['', '']:
            raise TableFormatError('line %d: table of %s does not end with two '
                                   'newlines' % (i + 1, table.filename))
        tables.append(table)
    return tables


def parse_row(line, where='?'):
    try:
        lineno = int(line[:6])
    except ValueError:
        raise TableFormatError('line %s: no line number in %r' % (where, line))
    rest = line[6:]
    if rest[:BLANK_GAP] == ' ' * BLANK_GAP:
        return Row(lineno, None, None, None, rest[BLANK_GAP:])
    m = _MEASURED.match(rest)
    if not m:
        raise TableFormatError('line %s: cannot read row %r' % (where, line))
    return Row(lineno, float(m.group(1)), float(m.group(2)), int(m.group(3)),
               m.group(4))


@dataclass
class MemprofRun:
    proc: subprocess.CompletedProcess     # the program under the agent
    trace: Path
    report: Optional[subprocess.CompletedProcess]   # memprof-report TRACE


def run_memprof(program, out_dir, *, python=AGENT_PYTHON, args=(), env=None,
                report_args=(), cwd=None, report=True, timeout=TIMEOUT):
    """Run `program` (a path) under the agent, then memprof-report on the
    trace.  The program runs from `cwd` (default: its own directory) as
    `python NAME args...`.  `env` adds to clean_env() (set LD_PRELOAD to
    '' to run without the agent); set MEMPROF_OUTPUT in it to choose the
    trace path (default: out_dir/trace.jsonl; removed first).  The report
    runs from the same directory; report=False skips it."""
    program = Path(program)
    cwd = Path(cwd) if cwd else program.parent
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trace = out_dir / 'trace.jsonl'
    extra = {'LD_PRELOAD': str(AGENT), 'MEMPROF_OUTPUT': str(trace)}
    extra.update(env or {})
    trace = cwd / extra['MEMPROF_OUTPUT']     # relative: to the program's cwd
    if trace.exists():
        trace.unlink()
    script = os.path.relpath(program, cwd)
    proc = subprocess.run([python, script, *args], cwd=cwd,
                          env=clean_env(extra), capture_output=True,
                          timeout=timeout)
    proc = _decoded(proc)
    rep = None
    if report:
        rep = run_report(trace, *report_args, cwd=cwd, timeout=timeout)
    return MemprofRun(proc, trace, rep)


def run_report(trace, *args, cwd=None, timeout=TIMEOUT):
    """memprof-report [args...] TRACE, output decoded as UTF-8."""
    proc = subprocess.run([str(REPORT), *args, str(trace)], cwd=cwd,
                          env=clean_env(), capture_output=True,
                          timeout=timeout)
    return _decoded(proc)


@dataclass
class OracleRun:
    proc: subprocess.CompletedProcess
    tables: List[Table]
    # One {lineno: n} per table (same order): the number of records of that
    # row charged against 0 rather than against a previous line's maximum.
    # Empty when run with plain=True.
    base0: List[Dict[int, int]]
    # One {lineno: MiB} per table: the part of that row's Increment that
    # those records added (the samples themselves, absolute levels).
    level0: List[Dict[int, float]] = field(default_factory=list)


def run_oracle(program, *, args=(), mp_args=(), plain=False, cwd=None,
               python=ORACLE_PYTHON, timeout=TIMEOUT, env=None):
    """Run `python -m memory_profiler [mp_args] NAME [args]` from the
    program's directory (plain=True), or the same through oracle_shim.py,
    which prints the same tables and also reports base0."""
    program = Path(program)
    cwd = Path(cwd) if cwd else program.parent
    script = os.path.relpath(program, cwd)
    extra = dict(env or {})
    if plain:
        cmd = [python, '-m', 'memory_profiler', *mp_args, script, *args]
    else:
        base0_file = _scratch_name(program)
        extra['MEMPROF_ORACLE_BASE0'] = str(base0_file)
        cmd = [python, str(ORACLE_SHIM), *mp_args, script, *args]
    proc = _decoded(subprocess.run(cmd, cwd=cwd, env=clean_env(extra),
                                   capture_output=True, timeout=timeout))
    tables = parse_tables(proc.stdout) if proc.returncode == 0 else []
    base0, level0 = [], []
    if not plain:
        try:
            with open(base0_file, encoding='utf-8') as f:
                entries = json.load(f)
        finally:
            if base0_file.exists():
                base0_file.unlink()
        keys = [(t.filename, t.first) for t in tables]
        if keys != [(e['filename'], e['first']) for e in entries]:
            raise AssertionError('oracle_shim: tables %r but counts for %r'
                                 % (keys, entries))
        base0 = [{int(k): v for k, v in e['base0'].items()} for e in entries]
        level0 = [{int(k): v for k, v in e['level0'].items()} for e in entries]
    return OracleRun(proc, tables, base0, level0 if not plain else [])


def read_trace(path):
    """The trace as a list of records: dicts for objects, lists for events
    (in format 1's terms, whichever format the trace is in)."""
    return trace_format.read_trace(path)


def format_tables(tables):
    """The tables as memory_profiler prints them (precision 3)."""
    out = []
    for t in tables:
        out.append('Filename: %s\n\n%s\n%s\n' % (t.filename, HEADER, RULE))
        for r in t.rows:
            if r.measured:
                out.append('{0:>6} {1:>12} {2:>12}  {3:>10}   {4}\n'.format(
                    r.lineno, '%7.3f MiB' % r.mem, '%7.3f MiB' % r.inc,
                    r.occurrences, r.text))
            else:
                out.append('%6d%s%s\n' % (r.lineno, ' ' * BLANK_GAP, r.text))
        out.append('\n\n')
    return ''.join(out)


def _decoded(proc):
    for name in ('stdout', 'stderr'):
        data = getattr(proc, name)
        if isinstance(data, bytes):
            setattr(proc, name, data.decode('utf-8', errors='backslashreplace'))
    return proc


def _scratch_name(program):
    import tempfile
    fd, name = tempfile.mkstemp(prefix='oracle-%s-' % program.stem,
                                suffix='.json')
    os.close(fd)
    return Path(name)
