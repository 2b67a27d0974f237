# One function called several times: its Occurrences and Increments
# accumulate in one table.
@profile
def churn(n):
    tmp = [0] * n
    size = len(tmp)
    del tmp
    return size


@profile
def loop_caller():
    total = 0
    for _ in range(3):
        total += churn(10)
    return total


if __name__ == '__main__':
    churn(5 * 10**6)
    churn(5 * 10**6)
    churn(5 * 10**6)
    loop_caller()
