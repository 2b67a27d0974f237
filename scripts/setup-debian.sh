#!/bin/sh
# Installs the Debian 12 packages memprof needs to build and test, if any
# is missing. Used by `make demo`, `make setup` and CI (.ci/run).
#   scripts/setup-debian.sh            what build and `make test` need
#   scripts/setup-debian.sh test-real  also CPython's regression tests and
#                                      coverage (`make test-real`; ~30 MB)
set -eu

packages="gcc make libc6-dev python3-dev libjansson-dev python3-pytest
python3-memory-profiler python3-psutil python3-numpy python3-jsonschema chromium help2man
python3-venv python3-setuptools python3-wheel python3-pip
ipython3 python3-ipykernel python3-nbclient python3-nbformat python3-line-profiler"
case "${1:-}" in
    "") ;;
    test-real) packages="$packages libpython3.11-testsuite python3-coverage" ;;
    *) echo "usage: $0 [test-real]" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "memprof setup: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
