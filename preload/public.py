# memprof's Python side: what the Python package (python/memprof/__init__.py)
# calls, compiled into the namespace when the package first asks for it
# (its _api()), not at every interpreter's start-up with bootstrap.py.


def _public_register(func):
    _c.keep_tables()
    return _load()(func)


def _public_codes(funcs):
    if not funcs:
        return list(_registered_codes)
    codes = []
    for f in funcs:
        # The wrapper @profile returns (up to 3.11) is not the code profiled.
        g = f
        while getattr(g, "__code__", None) not in _registered_codes and hasattr(g, "__wrapped__"):
            g = g.__wrapped__
        codes.append(getattr(g, "__code__", g))
    return codes


def _public_table(funcs, precision):
    out = []
    for code in _public_codes(funcs):
        out.extend(_c.table_text(code, precision) or ())
    return "".join(out)


def _public_reset(funcs):
    for code in _public_codes(funcs):
        _c.table_reset(code)
