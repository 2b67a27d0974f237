# memprof's Python side: profile.timestamp's spans, compiled on the first
# call of profile.timestamp (profile_impl.py), not with the first @profile:
# about 45% of profile_impl's compiling cost went to this class.


class _Timestamp:
    # profile.timestamp(name): one {"k":"timestamp"} record per span, with
    # its times and the RSS at both ends (memory_profiler's TimeStamper
    # writes them for mprof). A context manager; as a decorator each call
    # is a span.

    def __init__(self, owner, name):
        self._owner = owner
        self.name = name
        self._starts = []

    def __enter__(self):
        self._starts.append(_c.timestamp_now())
        self._owner._depth += 1
        return self

    def __exit__(self, *exc_info):
        t0, rss0 = self._starts.pop()
        self._owner._depth -= 1
        t1, rss1 = _c.timestamp_now()
        _c.timestamp_write(self.name, t0, rss0, t1, rss1, self._owner._depth)
        return False

    def __call__(self, func):
        owner, name = self._owner, self.name

        def wrapper(*args, **kwargs):
            with _Timestamp(owner, name):
                return func(*args, **kwargs)
        return _c.wraps(wrapper, func)
