"""Named spans with profile.timestamp, as under mprof run: each is a lane of
its own under the profiled functions in the plot
(memprof --plot docs/plot-timestamps.svg examples/timestamps.py). Runs
under `python -m memory_profiler --timestamp` too."""
import time


@profile
def build(n):
    rows = [str(i) for i in range(n)]
    time.sleep(0.02)
    return rows


with profile.timestamp("load"):
    data = [0] * (5 * 10 ** 6)
    time.sleep(0.05)
    with profile.timestamp("parse"):
        rows = build(2 * 10 ** 5)
        time.sleep(0.05)

with profile.timestamp("free"):
    del data
    time.sleep(0.05)
