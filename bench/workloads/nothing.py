# Workload 5, nothing selected: undecorated work and no decorator at all;
# run with the agent loaded, it measures the agent's steady-state cost. The
# work is also timed inside the process (into $BENCH_INNER_TIME).
#   python nothing.py UNITS
import os
import sys
import time

from busywork import work

t0 = time.perf_counter()
work(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
if os.environ.get("BENCH_INNER_TIME"):
    with open(os.environ["BENCH_INNER_TIME"], "w") as f:
        f.write(repr(time.perf_counter() - t0))
