@profile
def build():
    kept = []
    for i in range(4):
        chunk = [i] * (500000 * (i + 1))
        if i % 2:
            kept.append(chunk)
        del chunk
    return len(kept)


build()
