# Nested loops; the inner one builds rows that the outer one keeps.
@profile
def grid(rows, cols):
    table = []
    for r in range(rows):
        row = []
        for c in range(cols):
            row.append(r * c)
        table.append(row)
    return len(table)


grid(100, 100)
