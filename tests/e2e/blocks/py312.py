def nested_quotes():
    d = {"k": 1}
    s = f"{d["k"]} # {f"{d["k"]}"}"
    t = f"{
        d["k"]  # a comment inside a replacement field
    }"
    return s, t
    # trailing


def after_fstrings():
    u = f"{'}'}" + f"{{}}" + f"{(lambda: 1)()}"
    return u


type Alias = list[int]


def generic[T](x: T) -> T:
    return x
