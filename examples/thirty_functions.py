"""Thirty profiled functions run one after another, each allocating and
sleeping a little: the plot must name every one without overprinting
(memprof --plot docs/plot-30-functions.svg examples/thirty_functions.py)."""
import time

@profile
def step_00_work(n):
    block = [0] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_01_work(n):
    block = [1] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_02_work(n):
    block = [2] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_03_work(n):
    block = [3] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_04_work(n):
    block = [4] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_05_work(n):
    block = [5] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_06_work(n):
    block = [6] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_07_work(n):
    block = [7] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_08_work(n):
    block = [8] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_09_work(n):
    block = [9] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_10_work(n):
    block = [10] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_11_work(n):
    block = [11] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_12_work(n):
    block = [12] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_13_work(n):
    block = [13] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_14_work(n):
    block = [14] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_15_work(n):
    block = [15] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_16_work(n):
    block = [16] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_17_work(n):
    block = [17] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_18_work(n):
    block = [18] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_19_work(n):
    block = [19] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_20_work(n):
    block = [20] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_21_work(n):
    block = [21] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_22_work(n):
    block = [22] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_23_work(n):
    block = [23] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_24_work(n):
    block = [24] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_25_work(n):
    block = [25] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_26_work(n):
    block = [26] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_27_work(n):
    block = [27] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_28_work(n):
    block = [28] * n
    time.sleep(0.01)
    return len(block)

@profile
def step_29_work(n):
    block = [29] * n
    time.sleep(0.01)
    return len(block)

keep = []
for i in range(30):
    keep.append(globals()['step_%02d_work' % i](200000 * (1 + i % 7)))
    if i % 10 == 9:
        keep.clear()
