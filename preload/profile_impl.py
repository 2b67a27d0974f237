# memprof's Python side, the part compiled on first use of profile (see
# preload/bootstrap.py, which runs it in its own namespace: _c, _minor and
# builtins are there).
#
# Up to 3.11 a profiled function is wrapped so that the C trace function is
# on only while a profiled frame runs in that thread (a global trace
# function would slow every other line 2-4x). From 3.12 sys.monitoring
# delivers events for the profiled code objects alone, so the function is
# returned unchanged.


def _all_codes(code):
    yield code
    for const in code.co_consts:
        if type(const) is type(code):
            yield from _all_codes(const)


def _source_extent(code):
    # The rows of a table: from the first decorator to the end of the
    # block, as memory_profiler takes them; a module's, the whole file.
    try:
        if code.co_name == "<module>":
            import linecache
            n = len(linecache.getlines(code.co_filename))
            return (1, n) if n else None
        import inspect
        lines, start = inspect.getsourcelines(code)
    except Exception:
        return None
    if not lines:
        return None
    start = max(start, 1)
    return (start, start + len(lines) - 1)


class _Monitor:
    """sys.monitoring (3.12+): local events on the profiled code objects."""

    def __init__(self):
        mon = sys.monitoring
        for tool in (4, 3, 5, 1, 0, 2):
            if mon.get_tool(tool) is None:
                break
        else:
            raise RuntimeError("no sys.monitoring tool id is free")
        mon.use_tool_id(tool, "memprof")
        E = mon.events
        _c.set_disable(mon.DISABLE)
        for event, callback in ((E.PY_START, _c.on_call), (E.PY_RESUME, _c.on_call),
                                (E.PY_THROW, _c.on_call), (E.PY_RETURN, _c.on_return),
                                (E.PY_YIELD, _c.on_return), (E.PY_UNWIND, _c.on_return),
                                (E.LINE, _c.on_line), (E.JUMP, _c.on_jump)):
            mon.register_callback(tool, event, callback)
        # Unwinding and throwing are not local events; the callbacks ignore
        # code that is not profiled.
        mon.set_events(tool, E.PY_UNWIND | E.PY_THROW)
        self._tool = tool
        self._events = E
        self._local = (E.PY_START | E.PY_RESUME | E.PY_RETURN | E.PY_YIELD
                       | E.LINE | E.JUMP)

    def watch(self, code):
        for c in _all_codes(code):
            sys.monitoring.set_local_events(self._tool, c, self._local)

    def watch_starts(self):
        # Selection by name: every code object's start is judged once (the
        # callback turns PY_START off where it is not selected).
        E = self._events
        sys.monitoring.set_events(self._tool, E.PY_UNWIND | E.PY_THROW | E.PY_START)


def _step(it, enter, leave):
    # `yield from it`, spelled out (PEP 380) so that tracing is on while
    # `it` runs and off while its consumer runs. Nothing yielded or sent
    # stays referenced here while suspended, or the consumer's `del`
    # would free nothing.
    value = None
    error = None
    while True:
        enter()
        try:
            if error is not None:
                out = [it.throw(error)]
            else:
                out = [it.send(value)]
        except StopIteration as stop:
            return stop.value
        finally:
            leave()
            error = value = None
        try:
            value = yield out.pop()
        except GeneratorExit:
            enter()
            try:
                it.close()
            finally:
                leave()
            raise
        except BaseException as e:
            error = e


class _Awaitable:
    __slots__ = ("_coro", "_enter", "_leave")

    def __init__(self, coro, enter, leave):
        self._coro, self._enter, self._leave = coro, enter, leave

    def __await__(self):
        return _step(self._coro, self._enter, self._leave)


def _wrap(func, enter, leave):
    import functools
    import inspect
    if inspect.iscoroutinefunction(func):
        async def wrapper(*args, **kwargs):
            return await _Awaitable(func(*args, **kwargs), enter, leave)
    elif inspect.isgeneratorfunction(func):
        def wrapper(*args, **kwargs):
            return (yield from _step(func(*args, **kwargs), enter, leave))
    else:
        def wrapper(*args, **kwargs):
            enter()
            try:
                return func(*args, **kwargs)
            finally:
                leave()
    return functools.wraps(func)(wrapper)


class _Profile:
    # What builtins.profile (bootstrap.py's _LazyProfile) hands its calls to.

    def __init__(self):
        self._monitor = None

    def __call__(self, func=None, precision=1, **options):
        if func is None:
            return lambda f: self(f, precision)
        if not _c.recording():
            return func
        code = getattr(func, "__code__", None)
        if type(code) is not type(_step.__code__):
            import warnings
            warnings.warn("Could not extract a code object for the object %r" % (func,))
            return func
        if not self._start_monitor():
            return func
        _c.register(code, getattr(func, "__qualname__", code.co_name), _source_extent(code))
        if self._monitor is not None:
            self._monitor.watch(code)
            return func
        return _wrap(func, _c.enter, _c.leave)

    def _start_monitor(self):
        if _minor >= 12 and self._monitor is None:
            try:
                self._monitor = _Monitor()
            except Exception as e:
                _c.warn("cannot use sys.monitoring (%s); nothing is profiled" % (e,))
                return False
        return True

    def _select_setup(self, files, functions):
        # MEMPROF_FILES / MEMPROF_FUNCTIONS: judge code objects by name as
        # they first start.
        files, functions = _patterns(files), _patterns(functions)
        if not (files or functions) or not _c.recording() or not self._start_monitor():
            return
        _c.select_setup(_selector(self, files, functions))
        if self._monitor is not None:
            self._monitor.watch_starts()
        else:
            # New threads get the profile function through threading's hook,
            # set when the program imports threading (importing it here would
            # show in sys.modules before the program runs).
            _c.thread_hook_when_imported()

    def _select(self, code, qualname, anonymous_only):
        # A code object chosen by MEMPROF_FUNCTIONS or MEMPROF_FILES, now
        # starting for the first time.
        _c.register(code, qualname, _source_extent(code), anonymous_only)
        if self._monitor is not None:
            self._monitor.watch(code)

    def enable_by_count(self):
        if _minor < 12:
            _c.enter()

    def disable_by_count(self):
        if _minor < 12:
            _c.leave()


def _glob(name, pattern):
    # Shell-style matching, as fnmatch.fnmatchcase: * ? [seq] [!seq].
    n, p = 0, 0
    star_p, star_n = -1, 0
    while n < len(name):
        if p < len(pattern) and pattern[p] == "*":
            star_p, star_n = p, n
            p += 1
            continue
        if p < len(pattern):
            ok, width = _glob_one(name[n], pattern, p)
            if ok:
                n += 1
                p += width
                continue
        if star_p < 0:
            return False
        star_n += 1
        n, p = star_n, star_p + 1
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _glob_one(ch, pattern, p):
    # (whether ch matches the pattern item at p, the item's width)
    c = pattern[p]
    if c == "?":
        return True, 1
    if c == "[":
        start = p + 1
        negate = pattern[start:start + 1] == "!"
        if negate:
            start += 1
        end = pattern.find("]", start + 1)     # a "]" first in the set is literal
        if end > 0:
            body = pattern[start:end]
            hit, i = False, 0
            while i < len(body):
                if i + 2 < len(body) and body[i + 1] == "-":
                    hit = hit or body[i] <= ch <= body[i + 2]
                    i += 3
                else:
                    hit = hit or body[i] == ch
                    i += 1
            return hit != negate, end - p + 1
    return c == ch, 1


def _patterns(text):
    return [p for p in text.replace(",", " ").split() if p]


def _selector(profile, files, functions):
    # MEMPROF_FILES: every function and the module-level code of the files
    # whose name matches (a pattern without "/" matches the base name, one
    # with "/" the path). MEMPROF_FUNCTIONS: "module:qualname" patterns (a
    # pattern without ":" matches the qualname in any module). Shell-style
    # globs, matched by _glob (not fnmatch, whose import of re and enum the
    # program would see in sys.modules).
    import os

    qualnames = {}      # code -> qualname, for interpreters before 3.11

    def learn_qualnames(code, prefix):
        for c in code.co_consts:
            if type(c) is type(code):
                name = prefix + c.co_name
                qualnames[c] = name
                # A class body's functions are Class.f; a function's are f.<locals>.g
                is_function = c.co_flags & 0x1  # CO_OPTIMIZED
                learn_qualnames(c, name + (".<locals>." if is_function else "."))

    def file_selected(filename):
        if not filename or filename.startswith("<"):
            return False
        path = os.path.abspath(filename)
        base = os.path.basename(filename)
        for p in files:
            if "/" in p:
                if (_glob(path, p) or _glob(filename, p)
                        or _glob(path, "*/" + p)):
                    return True
            elif _glob(base, p):
                return True
        return False

    def select(code, module):
        if code.co_name == "<module>":
            learn_qualnames(code, "")
        qualname = getattr(code, "co_qualname", None) or qualnames.get(code, code.co_name)
        if files and file_selected(code.co_filename):
            # Lambdas, comprehensions and class bodies join the table of the
            # code around them; functions get tables of their own.
            is_function = code.co_flags & 0x1  # CO_OPTIMIZED
            if code.co_name == "<module>" or (is_function and not code.co_name.startswith("<")):
                profile._select(code, qualname, True)
            return
        if functions and module is not None and code.co_name != "<module>":
            full = "%s:%s" % (module, qualname)
            for p in functions:
                if _glob(full, p) or (":" not in p and _glob(qualname, p)):
                    profile._select(code, qualname, False)
                    return

    return select
