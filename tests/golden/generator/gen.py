@profile
def chunks(n):
    for i in range(n):
        block = [i] * 200000
        yield len(block)
    return


total = 0
for size in chunks(3):
    total += size
