def crlf():
    a = 1
    # comment
    return a


def old_mac():    return 2    # cr commentdef after():    pass