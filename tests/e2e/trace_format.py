"""Reading a trace in the tests: format 1 or 2 (README.rst, "The trace
format"), every event handed back with format 1's meaning.

Format 2 writes an event as [kind, code, line, dt(, drss_kib(, dpeak_kib(,
alloc, freed, heap_peak)))]: t and the RSS (KiB) are changes since the
previous event of the same chunk, which ends at every "pid", "part" and
header record; a chunk's first event carries them whole. records() turns
them back into [kind, code, line, rss_bytes, t(, peak_bytes(, alloc, freed,
heap_peak))]. Samples ([3, rss, t(, heap)]) are the same in both formats.
"""
import json


def decode_event(rec, base):
    """A format-2 event as format 1, and the new base (t, kib)."""
    kind, code, line, dt = rec[:4]
    dkib = rec[4] if len(rec) > 4 else 0
    t, kib = (dt, dkib) if base is None else (base[0] + dt, base[1] + dkib)
    out = [kind, code, line, kib * 1024, t]
    if len(rec) > 5:
        out.append((kib + rec[5]) * 1024)
        out.extend(rec[6:])
    return out, (t, kib)


def records(lines, tolerant=False):
    """The records of a trace's lines: dicts for objects, lists for events;
    a record written in pieces comes whole. A line that is no JSON raises
    ValueError, or with tolerant=True is skipped (as the end of what a
    killed process wrote)."""
    version = {}        # pid -> the format of its section
    pieces = {}         # pid -> the pieces of its long record so far
    pid = None
    base = None
    part = None         # the part record announcing the next line
    for text in lines:
        if not text.strip():
            continue
        if part is not None:
            pieces[part['pid']] = pieces.get(part['pid'], '') + text.rstrip('\n')
            if not part['last']:
                part = None
                continue
            text, pid, part = pieces.pop(part['pid']), part['pid'], None
        try:
            rec = json.loads(text)
        except ValueError:
            if tolerant:
                continue
            raise
        if isinstance(rec, dict):
            k = rec.get('k')
            if k in ('memprof', 'pid', 'part'):
                base = None
                pid = rec.get('pid')
            if k == 'memprof':
                version[pid] = rec.get('version', 1)
            if k == 'part':
                part = rec
                continue
            yield rec
        elif isinstance(rec, list) and rec and rec[0] != 3 and version.get(pid, 1) >= 2:
            rec, base = decode_event(rec, base)
            yield rec
        else:
            yield rec


def read_trace(path, tolerant=False):
    """The trace at path as a list of records (see records())."""
    with open(path, encoding='utf-8') as f:
        return list(records(f, tolerant))
