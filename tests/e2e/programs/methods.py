# Profiled methods: an instance method, and a method calling a method.
class Store:
    def __init__(self):
        self.items = []

    @profile
    def add(self, n):
        block = [0] * n
        self.items.append(block)
        return len(self.items)

    @profile
    def fill(self):
        self.add(5 * 10**6)
        self.add(10)
        return len(self.items)

    @profile
    def clear(self):
        count = len(self.items)
        self.items.clear()
        return count


if __name__ == '__main__':
    store = Store()
    store.fill()
    store.clear()
