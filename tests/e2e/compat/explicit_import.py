from memory_profiler import profile


@profile
def grow_and_free():
    """Allocates 152 MiB and gives it back."""
    keep = [1] * (10 ** 6)
    big = [2] * (2 * 10 ** 7)
    del big
    return keep


def helper(n):
    return [0] * n


@profile(precision=3)
def calls_helper():
    for i in range(3):
        x = helper(10 ** 5)
    return x


if __name__ == '__main__':
    # A table per call, printed as each call returns.
    grow_and_free()
    print('between calls')
    grow_and_free()
    calls_helper()
    print('doc', grow_and_free.__doc__, grow_and_free.__name__)
