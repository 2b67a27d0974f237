# Workload 3, many calls: a tiny decorated function called N times from an
# undecorated loop (one call, one line and one return event per call).
#   python calls.py N
import sys

try:
    profile
except NameError:
    profile = lambda f: f  # noqa: E731


@profile
def tiny(x):
    return x + 1


def main(n):
    s = 0
    for _ in range(n):
        s = tiny(s)
    return s


main(int(sys.argv[1]) if len(sys.argv) > 1 else 200000)
