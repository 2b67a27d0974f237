# Strings built by concatenation and join in loops; a generator function.
def pieces(n):
    for i in range(n):
        yield str(i)


@profile
def text(n):
    s = ''
    for i in range(n):
        s += 'x'
    joined = ','.join(pieces(n))
    parts = joined.split(',')
    return len(s) + len(parts)


text(20000)
