# Profiled methods called in a loop, one calling the other.
class Store:
    def __init__(self):
        self.items = []

    @profile
    def add(self, value):
        self.items.append(str(value) * 5)
        return self.count()

    @profile
    def count(self):
        n = len(self.items)
        return n


s = Store()
for i in range(5000):
    s.add(i)
