# One tiny @profile call: what the first @profile of a process costs, in
# instructions (bench/run.py runs it under callgrind, and the same script
# with the decorator line blanked, both under the agent).
@profile
def tiny():
    return 1


tiny()
