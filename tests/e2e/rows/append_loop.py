# Appends in a loop: the list grows in steps as CPython over-allocates.
@profile
def grow(n):
    out = []
    for i in range(n):
        out.append([i] * 50)
    total = len(out)
    return total


grow(20000)
