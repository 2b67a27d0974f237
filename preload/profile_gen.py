# memprof's Python side: the wrappers of generator and coroutine functions
# (up to 3.11), compiled into the bootstrap's namespace when the first one
# is profiled (see profile_impl.py's _wrapper).


def _generator_wrapper(func, is_coroutine, enter, leave):
    if is_coroutine:
        async def wrapper(*args, **kwargs):
            return await _Awaitable(func(*args, **kwargs), enter, leave)
    else:
        def wrapper(*args, **kwargs):
            return (yield from _step(func(*args, **kwargs), enter, leave))
    return wrapper


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
