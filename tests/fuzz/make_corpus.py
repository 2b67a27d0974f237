#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/ (the golden traces are
copied next to them as golden-CASE.jsonl).  Run from the top of the tree:
python3 tests/fuzz/make_corpus.py.  Each seed is one trace file; the names
say what edge it exercises."""
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fuzz" / "corpus"

HEAD = (b'{"k":"memprof","version":1,"pid":1,"ppid":0,"python":"3.11.2",'
        b'"argv":["x.py"],"cwd":"/tmp","start_ns":1,"t0_ns":2,"page_size":4096}\n')
DEFS = (b'{"k":"pid","pid":1}\n'
        b'{"k":"file","id":1,"path":"x.py","abspath":"/tmp/x.py","size":10,"mtime_ns":5}\n'
        b'{"k":"code","id":1,"file":1,"name":"f","qualname":"f","firstlineno":1,"top":1,"lines":[1,6]}\n'
        b'{"k":"code","id":2,"file":1,"name":"<lambda>","qualname":"f.<locals>.<lambda>","firstlineno":3,"top":1}\n'
        b'{"k":"thread","id":1,"tid":1,"ident":7,"name":"MainThread"}\n')
EVENTS = (b'[1,1,1,1000000,1]\n[0,1,3,2000000,2]\n[1,2,3,2000000,3]\n[0,2,3,3000000,4]\n'
          b'[2,2,3,3000000,5]\n[0,1,4,9000000,6]\n[2,1,4,9000000,7]\n')
END = b'{"k":"end","t":8}\n'
GOOD = HEAD + DEFS + EVENTS + END

seeds = {
    "good": GOOD,
    "truncated-mid-event": GOOD[:len(HEAD + DEFS) + 25],
    "truncated-mid-object": GOOD[:len(HEAD) + 30],
    "truncated-header": HEAD[:40],
    "no-final-newline": GOOD.rstrip(b"\n"),
    "crlf": GOOD.replace(b"\n", b"\r\n"),
    "empty": b"",
    "only-newlines": b"\n\n\n",
    "huge-numbers": HEAD + DEFS + (
        b'[0,1,3,99999999999999999999999999,1]\n[0,1,4,-9223372036854775808,2]\n'
        b'[0,1,5,9223372036854775807,9223372036854775807]\n[0,1,2147483647,1,1]\n'
        b'[0,1,-2147483648,1,1]\n[0,1,9223372036854775807,1,1]\n[0,1e308,3,1,1]\n'
        b'[0,1,3,1e400,1]\n[0,1,3,-0,1]\n[0,1,3,0.5,1]\n[2,1,3,1,1]\n') + END,
    "huge-ids": HEAD + b'{"k":"pid","pid":1}\n'
        b'{"k":"file","id":1048576,"path":"x.py"}\n'
        b'{"k":"code","id":1048576,"file":1048576,"name":"f","top":1048576,"lines":[1,4194303]}\n'
        b'{"k":"thread","id":1048576}\n[1,1048576,1,1,1]\n[0,1048576,4194303,1,1]\n'
        b'{"k":"code","id":-1,"file":1,"top":1}\n{"k":"thread","id":9223372036854775807}\n',
    "far-lines": HEAD + DEFS + b'[0,1,1,1,1]\n[0,1,4194304,1,1]\n[0,1,-4194304,1,1]\n[0,1,0,1,1]\n',
    "deep-nesting": HEAD + b"[" * 5000 + b"]" * 5000 + b"\n" + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"\n",
    "deep-calls": HEAD + DEFS + b"[1,1,1,1,1]\n" * 3000 + b"[2,1,1,1,1]\n" * 3001,
    "invalid-utf8": HEAD + b'{"k":"pid","pid":1}\n{"k":"file","id":1,"path":"a\xff\xfe.py","abspath":"/\xc0\xafb"}\n'
        b'{"k":"code","id":1,"file":1,"name":"\xed\xa0\x80","top":1}\n' + EVENTS,
    "escapes": HEAD.replace(b'"x.py"', b'"we\\"ird\\\\n\\na\\u001b[31mme\\ufffd.py"') + b'{"k":"pid","pid":1}\n'
        b'{"k":"file","id":1,"path":"\\u0000x\\ud800.py","path_hex":"00ff","abspath":"/t/\\u001b]0;x\\u0007"}\n'
        b'{"k":"code","id":1,"file":1,"name":"f","top":1,"lines":[1,3]}\n{"k":"thread","id":1}\n' + EVENTS,
    "nul-bytes": HEAD + DEFS + b"[0,1,\x003,1,1]\n\x00\x00\x00\n" + b'{"k":"file","id":2,"path":"a\x00b"}\n' + EVENTS,
    "six-fields": HEAD + DEFS + b'[1,1,1,1000,1,2000]\n[0,1,3,1000,2,5000]\n[0,1,4,1000,3,1000]\n[2,1,4,1000,4,1000]\n' + END,
    "nine-fields": HEAD + DEFS + b'[1,1,1,1000,1,2000,10,0,10]\n[0,1,3,1000,2,5000,4096,1024,4096]\n'
        b'[0,1,4,1000,3,1000,0,0,0]\n[2,1,4,1000,4,1000,1,2,3]\n[0,1,4,1,1,1,1,1,1,1,1,1]\n' + END,
    "seven-fields": HEAD + DEFS + b'[0,1,3,1,1,1,1]\n[0,1,3]\n[0]\n[]\n[0,1,3,1,"t"]\n',
    "samples": HEAD + DEFS + b'[3,1000000,1]\n[3,2000000,2,500000]\n' + EVENTS + b'[3,1,1,1,1]\n[3]\n[3,-1,-1]\n' + END,
    "table-records": HEAD + DEFS +
        b'{"k":"table","top":1,"rows":[[3,1,19193856,7.6328125],[4,1,179195904,152.58984375]]}\n'
        b'{"k":"table","top":1,"rows":[[3,2,19193856,1e308,100,1,2,3],[4,1,1,-0.0]]}\n'
        b'{"k":"table","top":99,"rows":[]}\n{"k":"table","top":1,"rows":"x"}\n'
        b'{"k":"table","top":1,"rows":[[2147483648,1,1,1]]}\n' + END,
    "unknown-kinds": HEAD + DEFS + b'{"k":"future","x":[1,2,3]}\n{"k":null}\n{}\n{"k":1}\n"string"\n42\nnull\ntrue\n' + EVENTS,
    "two-pids": HEAD + DEFS + EVENTS + HEAD.replace(b'"pid":1,"ppid":0', b'"pid":2,"ppid":1') + DEFS.replace(b'"pid":1', b'"pid":2')
        + b'{"k":"pid","pid":1}\n' + EVENTS + b'{"k":"pid","pid":3}\n' + EVENTS + b'{"k":"pid","pid":2}\n' + EVENTS + END,
    "pid-reuse": HEAD + DEFS + EVENTS + END + HEAD + DEFS + EVENTS + END,
    "newer-version": HEAD.replace(b'"version":1', b'"version":2') + DEFS + EVENTS,
    "version-huge": HEAD.replace(b'"version":1', b'"version":1e999') + DEFS + EVENTS,
    "redefinitions": HEAD + DEFS + DEFS + DEFS.replace(b'"top":1', b'"top":2') + EVENTS + b'{"k":"code","id":1,"file":2,"top":1}\n' + EVENTS,
    "threads-many": HEAD + DEFS + b"".join(b'{"k":"thread","id":%d,"tid":%d}\n[1,1,1,1,1]\n[0,1,3,1,1]\n' % (i, i) for i in range(1, 200))
        + b"".join(b'{"k":"thread","id":%d}\n[2,1,3,1,1]\n' % i for i in range(1, 200)),
    "events-before-defs": HEAD + b'[0,1,3,1,1]\n{"k":"thread","id":1}\n[0,7,3,1,1]\n[1,1,1,1,1]\n' + DEFS,
    "bad-types": HEAD + b'{"k":"file","id":"1","path":1}\n{"k":"code","id":1,"file":"x","top":[],"lines":[5,1]}\n'
        b'{"k":"code","id":2,"file":1,"top":2,"lines":[1]}\n{"k":"code","id":3,"file":1,"top":3,"lines":[1,2,3]}\n'
        b'{"k":"memprof","version":"1","pid":"1"}\n{"k":"pid","pid":1.5}\n{"k":"thread","id":1.0}\n'
        b'{"k":"memprof","version":1,"pid":5,"argv":[1,null,"x"],"cwd":7}\n',
    "whitespace": HEAD + DEFS + b' [0, 1, 3, 1, 1] \n\t[0,1,3,1,1]\n[ 0,1,3,1,1]\n[0,1,3,1,1] \n[00,01,3,1,1]\n[+0,1,3,1,1]\n',
}

OUT.mkdir(parents=True, exist_ok=True)
for name, data in seeds.items():
    (OUT / ("seed-" + name)).write_bytes(data)
for case in sorted((ROOT / "tests" / "golden").iterdir()):
    for trace in sorted(case.glob("*.jsonl")):
        shutil.copy(trace, OUT / ("golden-%s-%s" % (case.name, trace.name)))
