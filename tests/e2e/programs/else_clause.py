# else: clauses of for, while, try and if.
@profile
def with_else(items):
    for item in items:
        if item < 0:
            break
    else:
        found = [0] * (5 * 10**6)
    n = 0
    while n < 3:
        n += 1
    else:
        n = -n
    try:
        value = items[0]
    except IndexError:
        value = None
    else:
        value = value + 1
    if value is None:
        value = 0
    else:
        del found
    return value


if __name__ == '__main__':
    with_else([1, 2, 3])
