# A profiled function run in worker threads, one after the other (memory_
# profiler traces the thread that calls the decorated function). 38 MiB
# lists: above glibc's largest dynamic mmap threshold, mapped and unmapped
# at once whatever the arena.
import threading


@profile
def job(n):
    data = [0] * n
    for i in range(1000):
        data[i] = i
    return len(data)


for k in range(3):
    t = threading.Thread(target=job, args=(5 * 10**6,))
    t.start()
    t.join()
