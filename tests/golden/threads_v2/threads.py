import sys
import threading

sys.setswitchinterval(1e-6)
both_inside = threading.Barrier(2)


@profile
def work(n):
    data = [n] * (200000 * n)
    both_inside.wait()
    total = 0
    for x in data[:3]:
        total += x
    del data
    return total


t = threading.Thread(target=work, args=(1,))
t.start()
work(2)
t.join()
