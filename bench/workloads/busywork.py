# Undecorated work shared by workloads 4 and 5: function calls, loops,
# dicts, strings and a little recursion, the kind of code a tracer that is
# left on would slow down.


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def words(k):
    counts = {}
    for i in range(k):
        w = "w%d" % (i % 97)
        counts[w] = counts.get(w, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]


def sieve(n):
    flags = bytearray([1]) * (n + 1)
    flags[0:2] = b"\0\0"
    for i in range(2, int(n ** 0.5) + 1):
        if flags[i]:
            flags[i * i::i] = bytes(len(range(i * i, n + 1, i)))
    return sum(flags)


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm2(self):
        return self.x * self.x + self.y * self.y


def objects(k):
    return sum(Point(i, -i).norm2() for i in range(k))


def work(units):
    total = 0
    for _ in range(units):
        total += fib(18)
        total += len(words(4000))
        total += sieve(20000)
        total += objects(3000)
    return total
