# A for loop that appends, then one large list allocated and freed.
@profile
def build(n):
    out = []
    for i in range(n):
        out.append(i * 2)
    big = [0] * (5 * 10**6)
    del big
    return out


if __name__ == '__main__':
    build(200)
