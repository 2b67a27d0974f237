# memprof's Python side: memory_profiler 0.61's API, served by memprof.
#
# The agent runs this file as the module memory_profiler when the program
# imports that name (preload/pyside.c, at the "import" audit event; off with
# MEMPROF_COMPAT=0), whether or not the real package is installed. Nothing
# else is added to the program's sys.modules, and nothing is imported here
# but what the program asks for by name (LogFile's logging).
#
# The agent puts in this module's namespace, before running it:
#   _c      the agent's C functions (as in bootstrap.py)
#   _ns     the bootstrap's namespace (_load, _register_function...)
#   _minor  the interpreter's minor version
#   _sys    the sys module
#
# The numbers are memprof's: RSS read from /proc by the agent's C code at
# every line event (the rule and the text table are table/mp_table.c's,
# shared with memprof-report), not psutil's.
__version__ = "0.61.0"

# memory_profiler's backends all measure with memprof's one: the resident set
# size from /proc/PID/statm ("psutil" measures the same RSS; "psutil_pss",
# "psutil_uss", "posix" and "tracemalloc" are accepted and measure it too).
_BACKENDS = ("psutil", "psutil_pss", "psutil_uss", "posix", "tracemalloc")
_MIB = 1048576.0


def choose_backend(new_backend=None):
    """The backend to measure with: any of memory_profiler's names is
    accepted; all are served by memprof's RSS (see the module's notes)."""
    if new_backend is None:
        return "psutil"
    if new_backend not in _BACKENDS:
        raise ValueError("unknown memory_profiler backend %r (known: %s)"
                         % (new_backend, ", ".join(_BACKENDS)))
    return new_backend


def _impl():
    return _ns["_load"]()


def _registered(func):
    _impl()
    return _ns["_register_function"](func)


def _write_table(code, stream, precision):
    pieces = _c.table_text(code, precision)
    if pieces is None:
        return
    if stream is None:
        stream = _sys.stdout
    for piece in pieces:
        stream.write(piece)


def profile(func=None, stream=None, precision=1, backend="psutil"):
    """memory_profiler's decorator, explicitly imported: each call prints
    the function's line table when it returns, to stream (default
    sys.stdout). Under the memprof launcher the tables come at the end, from
    the trace, as for the builtin @profile."""
    choose_backend(backend)
    if func is None:
        def decorator(f):
            return profile(f, stream=stream, precision=precision, backend=backend)
        return decorator
    code = getattr(func, "__code__", None)
    if (_c.launcher() or not _c.recording() or type(code) is not type(profile.__code__)
            or code.co_flags & 0x2a0):
        # Generators and coroutines: recorded in the trace only.
        return _impl()(func, precision)
    _c.keep_tables()
    inner = _impl()(func, precision)

    def wrapper(*args, **kwargs):
        _c.table_reset(code)
        value = inner(*args, **kwargs)
        _write_table(code, stream, precision)
        return value
    return _c.wraps(wrapper, func)


def _timestamp(name="<block>"):
    """A named span, as the builtin profile.timestamp (memory_profiler has
    it on the builtin of mprof run only); drawn by --plot."""
    return _impl().timestamp(name)


profile.timestamp = _timestamp


class LineProfiler:
    """memory_profiler's LineProfiler: a set of functions whose lines are
    recorded while it is enabled; show_results(prof) prints their tables."""

    def __init__(self, **kw):
        self.functions = []
        self.include_children = kw.get("include_children", False)
        self.backend = choose_backend(kw.get("backend", None))
        self.max_mem = kw.get("max_mem", None)
        self._count = 0
        _c.keep_tables()

    @property
    def code_map(self):
        # {code: {line: (increment, mem usage, occurrences)}} of the measured
        # lines, as memory_profiler's CodeMap holds them (a snapshot).
        return {f.__code__: {line: (inc, mem, n) for line, inc, mem, n in _c.table_rows(f.__code__)}
                for f in self.functions}

    def __call__(self, func=None, precision=1):
        if func is None:
            return lambda f: self(f, precision=precision)
        self.add_function(func)
        return self.wrap_function(func)

    def add_function(self, func):
        code = getattr(func, "__code__", None)
        if type(code) is not type(profile.__code__):
            _c.notice("Could not extract a code object for the object %r" % (func,))
            return
        if func in self.functions:
            return
        if _registered(func):
            _c.table_reset(code)
        self.functions.append(func)

    def wrap_function(self, func):
        def f(*args, **kwargs):
            self.enable_by_count()
            try:
                return func(*args, **kwargs)
            finally:
                self.disable_by_count()
        return _c.wraps(f, func)

    def runctx(self, cmd, globals, locals):
        self.enable_by_count()
        try:
            exec(cmd, globals, locals)
        finally:
            self.disable_by_count()
        return self

    def run(self, cmd):
        main = _sys.modules["__main__"].__dict__
        return self.runctx(cmd, main, main)

    def enable_by_count(self):
        if self._count == 0:
            self.enable()
        self._count += 1

    def disable_by_count(self):
        if self._count > 0:
            self._count -= 1
            if self._count == 0:
                self.disable()

    def enable(self):
        # Up to 3.11 the trace function is on while enabled; 3.12+ watches
        # the registered code objects all the time.
        if _minor < 12:
            _c.enter()

    def disable(self):
        if _minor < 12:
            _c.leave()

    def __enter__(self):
        self.enable_by_count()
        return self

    def __exit__(self, *exc_info):
        self.disable_by_count()
        return False


def show_results(prof, stream=None, precision=1):
    """Writes the tables of prof's functions (a LineProfiler), in the order
    they were added, as memory_profiler does: piece by piece to stream."""
    for func in getattr(prof, "functions", ()):
        _write_table(func.__code__, stream, precision)


class LogFile:
    """A stream for show_results and profile(stream=...) that hands each
    piece to the logging logger `name` (at INFO); with reportIncrementFlag,
    only the headings (Filename, the header line) and the rows whose
    Increment is positive."""

    def __init__(self, name=None, reportIncrementFlag=False):
        import logging
        self._info = logging.INFO
        self.logger = logging.getLogger(name)
        self.reportIncrementFlag = reportIncrementFlag

    def _wanted(self, text):
        if not self.reportIncrementFlag or "Filename:" in text or "Line Contents" in text:
            return True
        cells = text.split("MiB")
        if len(cells) < 2:
            return False
        try:
            return float(cells[1].strip()) > 0
        except ValueError:
            return False

    def write(self, text, level=None):
        if self._wanted(text):
            self.logger.log(self._info if level is None else level, text)

    def flush(self):
        for handler in self.logger.handlers:
            handler.flush()


# ---- memory_usage ----

def _pid_of(proc):
    if proc == -1:
        return 0
    return int(proc)


def _sample(pid, timestamps, include_children):
    mem = _c.rss_of(pid, include_children)
    if mem < 0:
        raise ProcessLookupError("no process %d" % pid)
    mem /= _MIB
    return (mem, _c.now()) if timestamps else mem


def _children(pid):
    # [(index, MiB)] of the descendants, memory_profiler's "CHLD" lines.
    return [(i, mem / _MIB) for i, (_, mem) in enumerate(_c.children_rss(pid))]


class _Command:
    # The little of subprocess.Popen that memory_usage needs, without
    # importing subprocess into the program.
    def __init__(self, argv):
        self._os = _sys.modules["os"]
        self.pid = self._os.posix_spawnp(argv[0], list(argv), self._os.environ)
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            pid, status = self._os.waitpid(self.pid, self._os.WNOHANG)
            if pid == self.pid:
                self.returncode = self._os.waitstatus_to_exitcode(status) \
                    if hasattr(self._os, "waitstatus_to_exitcode") else status
        return self.returncode


def _write_sample(stream, mem, multiprocess, pid):
    stream.write("MEM {0:.6f} {1:.4f}\n".format(*mem))
    if multiprocess:
        now = _c.now()
        for i, child in _children(pid):
            stream.write("CHLD {0} {1:.6f} {2:.4f}\n".format(i, child, now))


def memory_usage(proc=-1, interval=.1, timeout=None, timestamps=False,
                 include_children=False, multiprocess=False, max_usage=False,
                 retval=False, stream=None, backend=None, max_iterations=None):
    """memory_profiler's memory_usage, sampled by memprof's C code.

    proc: -1 (this process), a pid, a subprocess.Popen, a command (a list
    of strings, started here), or a function given as f, (f,), (f, args) or
    (f, args, kwargs). Returns the samples in MiB
    (with timestamps, (MiB, time) pairs; with max_usage, the largest only;
    with retval, (samples, the function's value)); None when written to
    stream."""
    choose_backend(backend)
    if stream is not None:
        timestamps = True
    ret = -1 if max_usage else []
    if timeout is not None:
        max_iter = int(round(timeout / interval))
    elif isinstance(proc, int):
        max_iter = 1
    else:
        max_iter = float("inf")
        if max_iterations is not None:
            max_iter = max_iterations
    if callable(proc):
        proc = (proc, (), {})
    if isinstance(proc, (list, tuple)) and proc and isinstance(proc[0], str):
        # A command (memprof's addition): started here, sampled as a Popen.
        proc = _Command(proc)
    if isinstance(proc, (list, tuple)):
        if len(proc) == 1:
            f, args, kw = proc[0], (), {}
        elif len(proc) == 2:
            f, args, kw = proc[0], proc[1], {}
        elif len(proc) == 3:
            f, args, kw = proc
        else:
            raise ValueError("memory_usage: give (f, args, kwargs)")
        attempt = 0
        while True:
            attempt += 1
            _c.timer_start(0, float(interval), bool(include_children))
            try:
                returned = f(*args, **kw)
            finally:
                samples = _c.timer_stop()
            if timestamps:
                values = [(b / _MIB, t) for b, t in samples]
            else:
                values = [b / _MIB for b, t in samples]
            ret = max(values) if max_usage else values
            if retval:
                ret = ret, returned
            # As memory_profiler: a call too short for 5 samples is run again
            # with a tenth of the interval.
            if len(samples) > 4 or attempt == max_iter or interval < 1e-6:
                break
            interval /= 10.
    elif hasattr(proc, "poll") and hasattr(proc, "pid"):
        # A subprocess.Popen: sampled until it ends (or the timeout).
        lines = 0
        while True:
            if max_usage:
                ret = max(ret, _sample(proc.pid, False, include_children))
            else:
                mem = _sample(proc.pid, timestamps, include_children)
                if stream is not None:
                    _write_sample(stream, mem, multiprocess, proc.pid)
                else:
                    if multiprocess:
                        mem = [mem] + [m for _, m in _children(proc.pid)]
                    ret.append(mem)
            _c.sleep(interval)
            lines += 1
            if lines > 50:
                lines = 0
                if stream is not None:
                    stream.flush()
            if timeout is not None:
                max_iter -= 1
                if max_iter == 0:
                    break
            if proc.poll() is not None:
                break
    else:
        pid = _pid_of(proc)
        if max_iter == -1:
            max_iter = 1
        n = 0
        while n < max_iter:
            n += 1
            if max_usage:
                ret = max(ret, _sample(pid, False, include_children))
            else:
                mem = _sample(pid, timestamps, include_children)
                if stream is not None:
                    _write_sample(stream, mem, multiprocess, pid)
                else:
                    if multiprocess:
                        mem = [mem] + [m for _, m in _children(pid)]
                    ret.append(mem)
            _c.sleep(interval)
            if stream is not None:
                stream.flush()
    if stream:
        return None
    return ret
