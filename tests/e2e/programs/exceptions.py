# try/except/finally: one exception raised and caught inside a profiled
# function, one propagating out of a profiled function to its caller.
@profile
def inside():
    result = 0
    try:
        buf = bytearray(40 * 2**20)
        raise KeyError('inside')
    except KeyError:
        result = 1
    finally:
        del buf
    return result


@profile
def fails(n):
    data = [0] * n
    if data:
        raise ValueError('propagates')
    return data


@profile
def caller():
    try:
        fails(5 * 10**6)
    except ValueError:
        caught = True
    finally:
        done = True
    return caught and done


if __name__ == '__main__':
    inside()
    caller()
    try:
        fails(10)
    except ValueError:
        pass
