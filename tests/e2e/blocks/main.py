import functools


def deco(f):
    return f


def deco_args(*a, **k):
    return deco


@deco
@deco_args(1,
           2)
@deco
def stacked(x):
    return x  # trailing inline comment
    # indented trailing comment

# comment at column 0
    # indented comment after a column-0 one


@deco
def one_liner(): return 1
()


def followed_by_call(): pass
(1)
x = 1


def nested_outer():
    def inner(a):
        b = [i for i in range(a)]
        return lambda y: y + b[0]

    class Local:
        def method(self):
            return (yield 1)
            # comment in the method body

    return inner, Local
        # deeper trailing comment


def with_docstring():
    """A docstring with # not a comment
    and a def inside: def fake(): pass
    """
    s = '''triple
# still a string
'''
    return s


async def coroutine():
    await something()
  # less indented comment (not part of the block on 3.8+?)


async  def spaced_async():
    return 2


class Klass:
    attr = lambda self: 1

    @property
    def prop(self):
        return 1

    @staticmethod
    @deco_args(
        "x",
    )
    def static(a,
               b):
        return a + b

    def last_method(self):
        if self:
            return 1
        else:
            return 2



    # a comment after blank lines, indented like the method body?


def continuation():
    total = 1 + \
        2 + \
        3
    return total


def brackets_with_comments():
    data = [
        1,  # one
# column-0 comment inside brackets
        2,
    ]
    return data


square = lambda n: n * n
pair = (lambda a,
        b: a + b)
calls = list(map(lambda v: v + 1,
                 [1, 2]))
mapped = functools.reduce(
    lambda acc, v: acc + v,
    [1, 2, 3],
    0)
nested_lambda = lambda: (lambda: 1)


def gen():
    yield from range(3)


def fstrings():
    a = 1
    s = f"{a} # not a comment {'{'}"
    t = f'''{a}
    # inside a triple f-string
    {a!r:>{10}}'''
    return s, t


def decorated_class_factory():
    @deco
    class Inner:
        def m(self):
            pass
    return Inner


def semicolons(): a = 1; b = 2; return a + b


def ends_file():
    return "last"
    # final comment


def unmatched_after_genexpr(fields):
    # The second generator expression's block starts inside brackets: the
    # ")" below closes nothing there (3.12+ tokenize keeps its count at 0,
    # older ones go below 0 and stop seeing indentation).
    return (tuple(f for f in fields if f),
            tuple(f for f in fields if not f)
            )


handlers = {
    "a": lambda event: (event,
                        1),
    "b": [x for x in range(3)
          if x],
}
    # an indented comment after the dict
