# Workload 2, allocation-heavy: a decorated function allocating and freeing
# lists and bytearrays of 100 KiB to 1 MiB, keeping a few alive at a time.
#   python alloc.py ROUNDS
import sys

try:
    profile
except NameError:
    profile = lambda f: f  # noqa: E731


@profile
def churn(rounds):
    keep = []
    for i in range(rounds):
        size = (100 + (i * 37) % 925) * 1024   # 100 KiB .. 1 MiB
        buf = bytearray(size)
        lst = [i] * (size // 8)                 # a list of the same size
        keep.append(buf)
        if len(keep) > 8:
            del keep[0]
        del lst
    return len(keep)


churn(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
