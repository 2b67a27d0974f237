"""A pool of five spawned workers running one profiled function: the plot
draws the workers as one summed group, the total of all processes, and the
peak's line (memprof --plot docs/plot-pool.svg examples/pool.py)."""
import multiprocessing as mp
import time

@profile
def work(n):
    block = [0] * (n * 100000)
    time.sleep(0.05)
    return len(block)

if __name__ == "__main__":
    with mp.get_context("spawn").Pool(5) as pool:
        print(sum(pool.map(work, [1, 3, 5, 7, 9, 2, 4, 6, 8, 10])))
