import io
import os
import sys
import tempfile

from memory_profiler import profile

buffer = io.StringIO()
path = os.path.join(tempfile.mkdtemp(), 'tables.log')
log = open(path, 'w')


@profile(stream=buffer, precision=4)
def to_buffer():
    data = [7] * (5 * 10 ** 6)
    return len(data)


def to_file():
    rows = list(map(str, range(10 ** 5)))
    return len(rows)


to_file = profile(to_file, stream=log, precision=2)

if __name__ == '__main__':
    to_buffer()
    to_file()
    log.close()
    # Nothing reached stdout before this line; the tables went to the streams.
    print('=== buffer')
    sys.stdout.write(buffer.getvalue())
    print('=== file')
    with open(path) as f:
        sys.stdout.write(f.read())
