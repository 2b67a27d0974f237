# numpy arrays made and dropped in a loop, one kept: 40 MiB blocks are
# mapped and unmapped at once, the kept one stays.
import numpy as np


@profile
def work(rounds):
    keep = np.ones(5 * 10**6)
    for i in range(rounds):
        tmp = np.zeros(5 * 10**6)
        tmp += 1.0
        s = float(tmp.sum())
        del tmp
    total = s + float(keep[0])
    return total


work(10)
