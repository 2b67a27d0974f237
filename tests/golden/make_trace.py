#!/usr/bin/python3
"""Write a memprof trace (format version 1) of a small script, for fixtures.

    cd tests/golden/CASE && /usr/bin/python3 ../make_trace.py SCRIPT.py > trace.jsonl

Runs SCRIPT.py with a `profile` builtin that registers the functions it
decorates, traces them with sys.settrace the way the agent does, and writes
the records the agent would write, with the real RSS of this process. Paths
are written relative and without abspath/size/mtime_ns, so that the case
works from any checkout; the header's cwd is a made-up directory, so the
report has to fall back to its current directory to find the source.

This only makes the input. The expected tables come from oracle.py, which
replays the trace through memory_profiler 0.61's own code.
"""
import inspect
import json
import os
import sys
import threading
import time

T0 = time.monotonic_ns()
out = sys.stdout
statm = os.open("/proc/self/statm", os.O_RDONLY)
page = os.sysconf("SC_PAGE_SIZE")

files = {}      # filename -> id
codes = {}      # code object -> id
thread_ids = {} # threading ident -> id
current_thread = [None]
# The thread record and the event after it must not be split by a thread
# switch, or the event would be written under the other thread's id.
emit_lock = threading.Lock()
KIND = {"line": 0, "call": 1, "return": 2}


def emit(obj):
    out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")


def rss():
    return int(os.pread(statm, 64, 0).split()[1]) * page


def file_id(filename):
    if filename not in files:
        files[filename] = len(files) + 1
        emit({"k": "file", "id": files[filename], "path": filename})
    return files[filename]


def register(code, top):
    fid = file_id(code.co_filename)
    cid = len(codes) + 1
    codes[code] = cid
    rec = {"k": "code", "id": cid, "file": fid, "name": code.co_name,
           "qualname": code.co_qualname, "firstlineno": code.co_firstlineno,
           "top": codes.get(top, cid)}
    if top is code:
        lines, start = inspect.getsourcelines(code)
        rec["lines"] = [start, start + len(lines) - 1]
    emit(rec)
    for sub in code.co_consts:
        if inspect.iscode(sub):
            register(sub, top)


def profile(func):
    register(func.__code__, func.__code__)
    return func


def tracer(frame, event, arg):
    if frame.f_code not in codes or event not in KIND:
        return tracer if frame.f_code in codes else None
    with emit_lock:
        write_event(frame, event)
    return tracer


def write_event(frame, event):
    ident = threading.get_ident()
    if current_thread[0] != ident:
        current_thread[0] = ident
        if ident not in thread_ids:
            thread_ids[ident] = len(thread_ids) + 1
            emit({"k": "thread", "id": thread_ids[ident], "tid": threading.get_native_id(),
                  "ident": ident, "name": threading.current_thread().name})
        else:
            emit({"k": "thread", "id": thread_ids[ident]})
    out.write("[%d,%d,%d,%d,%d]\n" % (KIND[event], codes[frame.f_code], frame.f_lineno,
                                      rss(), time.monotonic_ns() - T0))


def main():
    script = sys.argv[1]
    emit({"k": "memprof", "version": 1, "pid": 4242, "ppid": 4200,
          "python": sys.version.split()[0], "argv": sys.argv[1:], "exe": sys.executable,
          "cwd": "/home/u/proj", "start_ns": time.time_ns(), "t0_ns": T0,
          "page_size": page})
    emit({"k": "pid", "pid": 4242})
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec")
    import builtins
    builtins.profile = profile
    glob = {"__name__": "__main__", "__file__": script}
    threading.settrace(tracer)
    sys.settrace(tracer)
    try:
        exec(code, glob)
    finally:
        sys.settrace(None)
        threading.settrace(None)
    emit({"k": "end", "t": time.monotonic_ns() - T0})


if __name__ == "__main__":
    main()
