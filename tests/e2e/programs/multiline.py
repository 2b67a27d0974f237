# Statements spread over several lines: a call, a list literal, a
# backslash continuation.
def make_block(n, fill):
    return [fill] * n


@profile
def spread():
    data = make_block(
        5 * 10**6,
        0,
    )
    items = [
        1,
        2,
        3,
    ]
    total = 1 + \
        2 + \
        3
    del data
    return items, total


if __name__ == '__main__':
    spread()
