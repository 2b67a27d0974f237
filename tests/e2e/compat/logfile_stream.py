import logging
import sys

from memory_profiler import LogFile, profile

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='LOG %(message)s')
sys.stdout_log = LogFile('memory_profile_log', reportIncrementFlag=True)


@profile(stream=sys.stdout_log)
def grows():
    small = 1
    big = [3] * (10 ** 7)
    small += 1
    return len(big)


if __name__ == '__main__':
    grows()
