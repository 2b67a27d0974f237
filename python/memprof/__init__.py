"""memprof: a line-by-line memory profiler for Python, written in C.

``import memprof`` loads memprof's agent (libmemprof.so) into this
interpreter, at the import, if it is not already there (``memprof
script.py``, ``LD_PRELOAD``), and installs the builtin ``profile``: what is
decorated or selected (``MEMPROF_FILES``, ``MEMPROF_FUNCTIONS``) from then
on is recorded, its tables kept in the process (``memprof.table()``). What
needs the preload: heap accounting (``MEMPROF_HEAP``; the allocator is
interposed only from the start of the process) -- said once at run time.
The package's own commands (``python -m memprof``, ``memprof``,
``memprof-report``), which run the C programs, do not load it; neither
does the pytest plugin (``memprof_pytest``) until a test asks for it.

For front ends (the IPython magics, the pytest plugin), the functions to call:

(a) make sure the agent is loaded and recording:
        memprof.start() -> bool         True if recording

(b) the text table (memory_profiler 0.61's layout, byte for byte):
        memprof.register(func)          record func's lines from now on
                                        (a decorator; returns func itself or
                                        a thin wrapper)
        with memprof.tracing(): ...     run code in which registered
                                        functions are traced (needed on
                                        Python < 3.12 for functions
                                        registered without their wrapper)
        memprof.table(*funcs, precision=1) -> str
                                        the tables of the given functions,
                                        or of everything recorded so far in
                                        this process when none is given
        memprof.reset(*funcs)           forget what was recorded (all when
                                        none is given)

(c) memory:
        memprof.rss() -> float          the current RSS, in MiB
        memprof.mark_peak()             start a new peak interval
        memprof.peak() -> float         the peak RSS since the last
                                        mark_peak() (or process start), MiB

memory_profiler's API (profile, memory_usage, LineProfiler, show_results,
LogFile) is served by memprof's agent under ``import memory_profiler``; the
same objects are ``memprof.compat``'s.
"""
import os
import sys

from memprof import _agent

__all__ = ["start", "register", "tracing", "table", "reset", "rss", "mark_peak", "peak"]
__version__ = "1.0.0"


def _api():
    ns = _agent.namespace()
    if ns is None:
        raise RuntimeError("memprof's agent is off (see the warning above)")
    ns["_c"].load("public")     # the agent's preload/public.py, compiled once
    return ns


def start():
    """Loads the agent into this process if needed; True if it records."""
    ns = _agent.namespace()
    if not ns or not ns["_c"].recording():
        return False
    ns["_c"].keep_tables()
    return True


def register(func):
    """Records the lines of func from now on, as @profile does."""
    return _api()["_public_register"](func)


class tracing:
    """``with memprof.tracing():`` the registered functions are traced."""

    def __enter__(self):
        ns = _api()
        if ns["_minor"] < 12:     # 3.12+ watches registered code always
            ns["_c"].enter()
        return self

    def __exit__(self, *exc_info):
        ns = _api()
        if ns["_minor"] < 12:
            ns["_c"].leave()
        return False


def table(*funcs, precision=1):
    """memory_profiler's tables of funcs (all recorded when none), as text."""
    return _api()["_public_table"](funcs, precision)


def reset(*funcs):
    """Forgets what was recorded for funcs (everything when none)."""
    _api()["_public_reset"](funcs)


def rss():
    """The resident set size of this process now, in MiB."""
    return _api()["_c"].rss_now() / 1048576.0


def mark_peak():
    """Starts a new interval for peak()."""
    _api()["_c"].peak_mark()


def peak():
    """The largest RSS since the last mark_peak(), in MiB."""
    return _api()["_c"].peak_since_mark() / 1048576.0


def load_ipython_extension(ipython):
    """``%load_ext memprof``: the magics %memit, %mprun and %%memprof
    (memprof._ipython)."""
    from memprof import _ipython
    _ipython.load_ipython_extension(ipython)


def _load_at_import():
    # `python -m memprof` imports the package while sys.argv[0] is still
    # "-m" (the documented rule of -m); the console scripts are named
    # after the commands. Those run the C launcher or report in place of
    # this process and need no agent here.
    argv0 = (getattr(sys, "argv", None) or [""])[0]
    if argv0 == "-m" or os.path.basename(argv0) in ("memprof", "memprof-report"):
        return
    try:
        if _agent.namespace() and not _agent.preloaded():
            # Loaded here, the agent writes no trace (unless asked): its
            # tables kept in the process are all there is to see. Under the
            # launcher they come from the trace.
            _agent.namespace()["_c"].keep_tables()
    except OSError:
        pass        # the library cannot be loaded: start() says why


_load_at_import()
