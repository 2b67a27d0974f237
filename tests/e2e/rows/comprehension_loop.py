# Comprehensions and generator expressions inside a loop.
@profile
def squares(rounds):
    kept = []
    for k in range(rounds):
        values = [i * i for i in range(1000)]
        total = sum(v for v in values if v % 3)
        kept.append({i: str(i) for i in range(100)})
    del values
    return total + len(kept)


squares(20)
