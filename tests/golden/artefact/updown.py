@profile
def spike_then_small():
    total = 0
    for i in range(300):
        block = [0] * (10 ** 7 if i == 0 else 100)
        total += len(block)
        del block
    return total


spike_then_small()
