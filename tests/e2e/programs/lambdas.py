# Lambdas defined and called inside a profiled function.
@profile
def use_lambdas():
    square = lambda x: x * x
    values = list(map(square, range(30)))
    ordered = sorted(values, key=lambda v: -v)
    make = lambda n: [0] * n
    big = make(5 * 10**6)
    del big
    return ordered[0]


if __name__ == '__main__':
    use_lambdas()
