@profile
def depth(n):
    blob = [n] * 300000
    if n == 0:
        return 0
    return 1 + depth(n - 1)


depth(3)
