# List, dict and set comprehensions and a generator expression; their code
# objects belong to the table of the function that contains them.
@profile
def comps(n):
    squares = [i * i for i in range(n)]
    index = {i: i + 1 for i in range(n)}
    residues = {i % 7 for i in range(n)}
    total = sum(i for i in range(n) if i % 2)
    pair = [[0] * (5 * 10**6) for _ in range(2)]
    del pair
    return len(squares) + len(index) + len(residues) + total


if __name__ == '__main__':
    comps(50)
