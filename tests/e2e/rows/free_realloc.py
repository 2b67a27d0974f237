# Memory up and down inside a loop: a 38 MiB list made and freed each time.
@profile
def churn(rounds):
    for i in range(rounds):
        block = [i] * (5 * 10**6)
        del block
    small = [0] * 1000
    return len(small)


churn(12)
