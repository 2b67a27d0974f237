# Two files: a profiled function calls a profiled function of an imported
# module whose line numbers overlap its own.
from _helper_mod import produce


@profile
def consume():
    for i in range(3):
        data = produce(5 * 10**6) if i else None
        del data
    return i


if __name__ == '__main__':
    consume()
