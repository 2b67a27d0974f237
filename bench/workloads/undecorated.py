# Workload 4, mostly undecorated: one short decorated call, then seconds of
# undecorated work (which must run untraced). The work is also timed inside
# the process (into $BENCH_INNER_TIME), start-up and decoration excluded.
#   python undecorated.py UNITS
import os
import sys
import time

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
t0 = time.perf_counter()
work(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
if os.environ.get("BENCH_INNER_TIME"):
    with open(os.environ["BENCH_INNER_TIME"], "w") as f:
        f.write(repr(time.perf_counter() - t0))
