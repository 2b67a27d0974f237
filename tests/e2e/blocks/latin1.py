# -*- coding: latin-1 -*-

def latin():
    s = "été"  # café
    return s
    # fin é


class élève:
    def m(self): return 1
