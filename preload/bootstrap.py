# memprof's Python side, run once by the agent when the interpreter is
# ready (during the import of site, before any user code), in a namespace
# of its own. It installs builtins.profile, which behaves as the builtin
# that `python -m memory_profiler` injects.
#
# The agent puts these names in the namespace before running this file:
#   _c_functions  the agent's C functions by name (register, enter, leave,
#                 warn, set_disable and the on_* callbacks)
#   _minor        the interpreter's minor version
#   _lazy_source  preload/profile_impl.py, the rest of the Python side,
#                 compiled into this namespace only when profile is first
#                 used (compiling it costs 2-3 ms, which a process that
#                 profiles nothing should not pay)
#
# Up to 3.11 a profiled function is wrapped so that the C trace function is
# on only while a profiled frame runs in that thread (a global trace
# function would slow every other line 2-4x). From 3.12 sys.monitoring
# delivers events for the profiled code objects alone, so the function is
# returned unchanged.
import builtins
import sys


class _c:
    # C functions do not bind as methods: plain attributes of a class.
    pass


for _name, _function in _c_functions.items():
    setattr(_c, _name, _function)
del _name, _function, _c_functions


_impl = None


def _load():
    global _impl
    if _impl is None:
        exec(compile(_lazy_source, "<memprof>", "exec"), globals())
        _impl = _Profile()
    return _impl


class _LazyProfile:
    """@profile, as under `python -m memory_profiler`: each line of the
    decorated function is recorded in memprof's trace; `memprof-report`
    prints the tables. Also `with profile:` and
    `profile.enable_by_count()` / `profile.disable_by_count()`."""

    def __call__(self, func=None, precision=1, **options):
        return _load()(func, precision, **options)

    def enable_by_count(self):
        _load().enable_by_count()

    def disable_by_count(self):
        _load().disable_by_count()

    def __enter__(self):
        _load().enable_by_count()
        return self

    def __exit__(self, *exc_info):
        _load().disable_by_count()
        return False

    def __repr__(self):
        return "<memprof profile>"


def _install():
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        _c.warn("the free-threaded build is not supported; @profile is not installed")
        return
    builtins.profile = _LazyProfile()
    import os
    if os.environ.get("MEMPROF_FILES", "").strip() or os.environ.get("MEMPROF_FUNCTIONS", "").strip():
        _load()._select_setup(os.environ.get("MEMPROF_FILES", ""),
                              os.environ.get("MEMPROF_FUNCTIONS", ""))


_install()
