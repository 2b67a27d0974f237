# memprof's Python side: selection by MEMPROF_FILES / MEMPROF_FUNCTIONS,
# compiled into the bootstrap's namespace at start-up when either is set
# (see bootstrap.py's _install).


def _select_setup(files, functions):
    # Judge code objects by name as they first start.
    files, functions = _patterns(files), _patterns(functions)
    if not (files or functions) or not _c.recording():
        return
    if _minor >= 12 and not _c.monitor_start():
        return
    _c.select_setup(_selector(files, functions))
    if _minor >= 12:
        _c.monitor_watch_starts()
    else:
        # New threads get the profile function through threading's hook,
        # set when the program imports threading (importing it here would
        # show in sys.modules before the program runs).
        _c.thread_hook_when_imported()


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


def _selector(files, functions):
    # MEMPROF_FILES: every function and the module-level code of the files
    # whose name matches (a pattern without "/" matches the base name, one
    # with "/" the path). MEMPROF_FUNCTIONS: "module:qualname" patterns (a
    # pattern without ":" matches the qualname in any module). Shell-style
    # globs, matched by _glob (not fnmatch, whose import of re and enum the
    # program would see in sys.modules).

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
        path = _c.abspath(filename)
        base = filename[filename.rfind("/") + 1:]
        for p in files:
            if "/" in p:
                if (_glob(path, p) or _glob(filename, p)
                        or _glob(path, "*/" + p)):
                    return True
            elif _glob(base, p):
                return True
        return False

    def chosen(code, qualname, anonymous_only):
        # Now starting for the first time.
        _c.register(code, qualname, _c.block(code), anonymous_only)
        if code not in _registered_codes:     # memprof.table() lists it
            _registered_codes.append(code)
        if _minor >= 12:
            _c.monitor_watch(code)

    def select(code, module):
        if code.co_name == "<module>":
            learn_qualnames(code, "")
        qualname = getattr(code, "co_qualname", None) or qualnames.get(code, code.co_name)
        if files and file_selected(code.co_filename):
            # Lambdas, comprehensions and class bodies join the table of the
            # code around them; functions get tables of their own.
            is_function = code.co_flags & 0x1  # CO_OPTIMIZED
            if code.co_name == "<module>" or (is_function and not code.co_name.startswith("<")):
                chosen(code, qualname, True)
            return
        if functions and module is not None and code.co_name != "<module>":
            full = "%s:%s" % (module, qualname)
            for p in functions:
                if _glob(full, p) or (":" not in p and _glob(qualname, p)):
                    chosen(code, qualname, False)
                    return

    return select
