@profile
def shapes():
    square = lambda x: x * x
    values = [square(i) for i in range(1000)]
    total = sum(v for v in values if v % 2)

    def helper(v):
        # a comment inside the block
        return [v] * 100000
    big = helper(total)
    return len(big)


shapes()
