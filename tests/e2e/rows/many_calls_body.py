# A profiled function with a loop of its own, called 1,000 times.
@profile
def step(seed):
    acc = 0
    for i in range(20):
        acc += i * seed
    if acc % 2:
        acc -= 1
    return acc


for k in range(1000):
    step(k)
