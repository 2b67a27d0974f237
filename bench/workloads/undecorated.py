# Workload 4, mostly undecorated: one short decorated call, then seconds of
# undecorated work (which must run untraced).
#   python undecorated.py UNITS
import sys

from busywork import work

try:
    profile
except NameError:
    profile = lambda f: f  # noqa: E731


@profile
def short(n):
    data = [i * i for i in range(n)]
    total = sum(data)
    del data
    return total


short(1000)
work(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
