# memprof's Python side, run once by the agent when the interpreter is
# ready (during the import of site, before any user code), in a namespace
# of its own. It installs builtins.profile, which behaves as the builtin
# that `python -m memory_profiler` injects.
#
# It runs inside someone else's program, so it imports nothing: an import
# would show in the program's sys.modules and run the program's import
# hooks (a patched builtins.__import__, sys.meta_path). What it needs from
# the interpreter the agent hands it, or does in C (preload/pyside.c).
# The agent puts these names in the namespace before running this file:
#   _c          the agent's C functions as attributes (register, enter,
#               leave, warn, block, wraps, load, the on_* callbacks...)
#   _minor      the interpreter's minor version
#   _sys        the sys module, as sys.modules held it at start-up
#   _selection  (MEMPROF_FILES, MEMPROF_FUNCTIONS) as set, or None
# The rest of the Python side is compiled into this namespace only when
# profile is first used (_c.load, see pyside.c): compiling costs about
# 60,000 instructions a line, which a process that profiles nothing
# should not pay.
_impl = None


def _load():
    global _impl
    if _impl is None:
        _c.load("profile_impl")
        _impl = _Profile()
    return _impl


class _LazyProfile:
    """@profile, as under `python -m memory_profiler`: each line of the
    decorated function is recorded in memprof's trace; `memprof-report`
    prints the tables. Also `with profile:`,
    `profile.enable_by_count()` / `profile.disable_by_count()` and
    `profile.timestamp(name)`."""

    def __call__(self, func=None, precision=1, **options):
        return _load()(func, precision, **options)

    def timestamp(self, name="<block>"):
        """A named span (memory_profiler's profile.timestamp under mprof):
        `with profile.timestamp("load"):`, or as a decorator; drawn by
        --plot."""
        return _load().timestamp(name)

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


# The code objects registered through profile, in order: what the Python
# package's memprof.table() prints when given no function.
_registered_codes = []


# What the Python package (python/memprof/__init__.py) calls is in
# preload/public.py, compiled when the package first asks for it.


def _install():
    if not getattr(_sys, "_is_gil_enabled", lambda: True)():
        _c.warn("the free-threaded build is not supported; @profile is not installed")
        return
    __builtins__["profile"] = _LazyProfile()
    if _selection is not None:
        _c.load("profile_select")
        _select_setup(*_selection)


_install()
