# Docstrings, comments and blank lines inside a profiled function; the
# block ends with an indented comment, then blank lines.
@profile
def documented(n):
    """Build a list.

    The docstring spans several lines.
    """
    # a comment before the first statement

    data = [0] * n

    # a comment between statements
    '''A string expression statement.'''
    del data

    return n
    # trailing comment inside the block


@profile
def tiny():
    "One-line docstring."
    return 1



if __name__ == '__main__':
    documented(5 * 10**6)
    tiny()
