#!/usr/bin/python3
"""Rewrites a format-1 trace as the agent writes format 2 (README.rst, "The
trace format"): each event's t and RSS (KiB) as the change since the
previous event of its chunk, the chunk's first event whole, an unchanged
RSS left out; a chunk ends at every "pid", "part" and header record.
Samples and every other line are kept as they are (a line that is no JSON,
such as an event cut short, too).

    /usr/bin/python3 tests/golden/to_v2.py V1_TRACE > trace.jsonl
"""
import json
import sys


def convert(lines):
    base = None         # (t, kib) of the previous event of the chunk
    piece = False       # the line after a part record is a piece, not a record
    for line in lines:
        text = line.rstrip('\n')
        if piece:
            piece = False
            yield line.replace('{"k":"memprof","version":1,', '{"k":"memprof","version":2,', 1)
            continue
        try:
            rec = json.loads(text)
        except ValueError:
            yield line
            continue
        if isinstance(rec, dict):
            if rec.get('k') in ('pid', 'part', 'memprof'):
                base = None
            if rec.get('k') == 'part':
                piece = True
            if rec.get('k') == 'memprof' and rec.get('version') == 1:
                line = line.replace('"version":1', '"version":2', 1)
            yield line
            continue
        if rec[0] == 3:
            yield line
            continue
        kind, code, lineno, rss, t = rec[:5]
        if rss % 1024 or (len(rec) > 5 and rec[5] % 1024):
            raise SystemExit('%r: format 2 counts the RSS in whole KiB' % text)
        kib = rss // 1024
        dt, dkib = (t, kib) if base is None else (t - base[0], kib - base[1])
        base = (t, kib)
        out = [kind, code, lineno, dt]
        if dkib or len(rec) > 5:
            out.append(dkib)
        if len(rec) > 5:
            out.append(rec[5] // 1024 - kib)
            out.extend(rec[6:])
        yield '[%s]\n' % ','.join(str(x) for x in out)


if __name__ == '__main__':
    with open(sys.argv[1], encoding='utf-8') as f:
        sys.stdout.writelines(convert(f))
