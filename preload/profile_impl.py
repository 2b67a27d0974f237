# memprof's Python side, the part compiled on first use of profile (see
# preload/bootstrap.py; the names it lists are here too). Kept short: each
# line compiled costs the first @profile about 60,000 instructions. The
# wrappers of generators and coroutines (profile_gen.py), the named spans
# (profile_timestamp.py) and the selection (profile_select.py) are compiled
# when first needed; sys.monitoring is set up in C (pyside.c).


class _Profile:
    # What builtins.profile (bootstrap.py's _LazyProfile) hands its calls to.

    def __call__(self, func=None, precision=1, **options):
        if func is None:
            return lambda f: self(f, precision)
        if not _register_function(func) or _minor >= 12:
            # 3.12+: sys.monitoring delivers the events of these code objects only.
            return func
        return _c.wraps(_wrapper(func, func.__code__.co_flags, _c.enter, _c.leave), func)

    _depth = 0      # named spans open now

    def timestamp(self, name="<block>"):
        _c.load("profile_timestamp")
        return _Timestamp(self, str(name))

    def enable_by_count(self):
        if _minor < 12:
            _c.enter()

    def disable_by_count(self):
        if _minor < 12:
            _c.leave()


def _register_function(func):
    # What @profile does but the wrapper: whether func's lines will be
    # recorded (up to 3.11, while tracing is on: _c.enter/_c.leave).
    if not _c.recording():
        return False
    code = getattr(func, "__code__", None)
    if type(code) is not type(_load.__code__):
        _c.notice("Could not extract a code object for the object %r" % (func,))
        return False
    if _minor >= 12 and not _c.monitor_start():
        return False
    _c.register(code, getattr(func, "__qualname__", code.co_name), _c.block(code))
    if _minor >= 12:
        _c.monitor_watch(code)
    if code not in _registered_codes:
        _registered_codes.append(code)
    return True


def _wrapper(func, flags, enter, leave):
    # Up to 3.11: the C trace function is on only while a profiled frame
    # runs in this thread (a global one would slow every other line 2-4x).
    if flags & 0xa0:    # CO_COROUTINE, CO_GENERATOR
        _c.load("profile_gen")
        return _generator_wrapper(func, flags & 0x80, enter, leave)

    call = _c.call      # enter(), func(*args, **kwargs), leave(), in C

    def wrapper(*args, **kwargs):
        return call(func, args, kwargs)
    return wrapper
