#!/usr/bin/python3
"""Expected tables for a golden case, from memory_profiler 0.61 itself.

    /usr/bin/python3 tests/golden/oracle.py tests/golden/CASE [...]

Replays the case's trace.jsonl (and any other .jsonl named in its args)
through memory_profiler's own code and writes CASE/expected.out:

- every source file a code record names is compiled, to get the real code
  objects; each registered code (top == id) is added to a fresh
  LineProfiler().code_map, which also maps its nested codes to its table,
  and its "lines" are checked against inspect.getsourcelines;
- memory_profiler._get_memory is patched to return the event's rss/2**20;
- call/line/return events are fed, in order, to
  LineProfiler.trace_memory_usage as fake frames (f_code, f_lineno);
- memory_profiler.show_results(prof, stream, precision) prints the tables.

What the oracle adds of its own, because memory_profiler has no notion of
it (each is memprof's documented rule, not a second implementation):

- each process section gets its own LineProfiler, and when there is more
  than one section the heading "Process PID (parent PPID): ARGV" and a blank
  line precede its tables;
- each thread gets its own call stack and previous line: they are swapped
  into the profiler (prevlines, prev_lineno) on a thread switch;
- an event that finds the stack empty (a section that starts mid-call) has
  its own line pushed for the duration of the event;
- a line number below 1 (code without line numbers, which the agent
  records as 0 and older agents as a negative number) is fed as None, the
  f_lineno such a frame has;
- records the report must reject are skipped the same way: lines that are
  not JSON, events that are not five integers, events naming an unknown code,
  and a cut-off last line.
Messages on stderr and exit statuses are not the oracle's business; those
files are written by hand (see README).
"""
import io
import inspect
import json
import os
import shlex
import sys
import types

import memory_profiler

# The tests' trace reader (formats 1 and 2).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import trace_format  # noqa: E402

current_rss = [0]
memory_profiler._get_memory = lambda *a, **k: current_rss[0] / 1048576.0
KINDS = {0: "line", 1: "call", 2: "return"}


def find_code(root, qualname, firstlineno):
    if root.co_qualname == qualname and root.co_firstlineno == firstlineno:
        return root
    for sub in root.co_consts:
        if inspect.iscode(sub):
            found = find_code(sub, qualname, firstlineno)
            if found:
                return found
    return None


class Thread:
    def __init__(self):
        self.prevlines = []
        self.prev_lineno = None


class Section:
    def __init__(self, header):
        self.header = header
        self.prof = memory_profiler.LineProfiler()
        self.prof._original_trace_function = None
        self.files = {}
        self.modules = {}
        self.codes = {}
        self.threads = {0: Thread()}
        self.thread = self.threads[0]

    def switch(self, tid):
        self.thread.prevlines = self.prof.prevlines
        self.thread.prev_lineno = self.prof.prev_lineno
        self.thread = self.threads.setdefault(tid, Thread())
        self.prof.prevlines = self.thread.prevlines
        self.prof.prev_lineno = self.thread.prev_lineno

    def module(self, fid):
        path = self.files[fid]
        if path not in self.modules:
            with open(path, "rb") as f:
                self.modules[path] = compile(f.read(), path, "exec")
        return self.modules[path]

    def define(self, rec):
        code = find_code(self.module(rec["file"]), rec["qualname"], rec["firstlineno"])
        if code is None:
            sys.exit("oracle: no code %s at line %d" % (rec["qualname"], rec["firstlineno"]))
        if rec["top"] == rec["id"]:
            self.prof.code_map.add(code)
            lines, start = inspect.getsourcelines(code)
            if "lines" in rec and rec["lines"] != [start, start + len(lines) - 1]:
                sys.exit("oracle: code %d has lines %r, Python says %r"
                         % (rec["id"], rec["lines"], [start, start + len(lines) - 1]))
        elif code not in self.prof.code_map:
            sys.exit("oracle: code %d is not nested in its top" % rec["id"])
        self.codes[rec["id"]] = code

    def event(self, ev):
        kind, cid, line, rss, _t = ev
        if line <= 0:
            line = None     # code without line numbers: f_lineno is None
        code = self.codes[cid]
        current_rss[0] = rss
        frame = types.SimpleNamespace(f_code=code, f_lineno=line)
        stack = self.prof.prevlines
        if not stack and kind == 0:
            stack.append(line)
            self.prof.trace_memory_usage(frame, "line", None)
            stack.pop()
        elif not stack and kind == 2:
            stack.append(line)
            self.prof.trace_memory_usage(frame, "return", None)
        else:
            self.prof.trace_memory_usage(frame, KINDS[kind], None)


def is_event(rec):
    return (isinstance(rec, list) and len(rec) == 5
            and all(type(x) is int for x in rec) and 0 <= rec[0] <= 2
            and rec[1] >= 0 and rec[3] >= 0)


def replay(path, sections):
    by_pid = {}
    cur = None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    for rec in trace_format.records(lines, tolerant=True):
        if isinstance(rec, dict):
            k = rec.get("k")
            if k == "memprof":
                if rec["version"] > 2:
                    return
                cur = Section(rec)
                sections.append(cur)
                by_pid[rec["pid"]] = cur
            elif k == "pid":
                cur = by_pid.get(rec.get("pid"))
            elif cur is None:
                continue
            elif k == "file":
                cur.files[rec["id"]] = rec["path"]
            elif k == "code" and rec.get("file") in cur.files:
                cur.define(rec)
            elif k == "thread":
                cur.switch(rec["id"])
        elif cur is not None and is_event(rec) and rec[1] in cur.codes:
            cur.event(rec)


def main():
    top = os.getcwd()
    for case in sys.argv[1:]:
        os.chdir(os.path.join(top, case))
        args = shlex.split(open("args").read()) if os.path.exists("args") else []
        precision, traces, i = 3, ["trace.jsonl"], 0
        while i < len(args):
            if args[i] == "--precision":
                precision = int(args[i + 1])
                i += 1
            elif args[i].endswith(".jsonl") and os.path.exists(args[i]):
                traces.append(args[i])
            i += 1
        sections = []
        for t in traces:
            replay(t, sections)
        stream = io.StringIO()
        for s in sections:
            if len(sections) > 1:
                h = s.header
                stream.write("Process %d (parent %d): %s\n\n"
                             % (h["pid"], h.get("ppid", 0), " ".join(h.get("argv", []))))
            memory_profiler.show_results(s.prof, stream, precision)
        with open("expected.out", "w", encoding="utf-8", newline="") as f:
            f.write(stream.getvalue())


if __name__ == "__main__":
    main()
