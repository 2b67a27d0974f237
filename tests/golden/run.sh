#!/bin/sh
# Runs every golden case: tests/golden/run.sh REPORT_BINARY
#
# A case is a folder holding trace.jsonl, the sources it names, args (extra
# arguments, put after trace.jsonl), expected.out and, where relevant,
# expected.err (default: empty) and expected.status (default: 0).  The report
# runs with the case folder as current directory.  Differences are shown with
# diff -u.  Set VALGRIND=1 to run the report under valgrind's leak checker.
set -u

report=${1:?usage: run.sh REPORT_BINARY}
case $report in /*) ;; *) report=$(pwd)/$report ;; esac
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

wrap=
if [ "${VALGRIND:-0}" = 1 ]; then
    wrap="valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=9"
fi

passed=0
failed=0
for dir in "$here"/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    [ -f "$dir/trace.jsonl" ] || continue
    args=
    [ -f "$dir/args" ] && args=$(cat "$dir/args")
    want_status=0
    [ -f "$dir/expected.status" ] && want_status=$(cat "$dir/expected.status")
    # shellcheck disable=SC2086 # args is a word list on purpose
    (cd "$dir" && $wrap "$report" trace.jsonl $args >"$tmp/out" 2>"$tmp/err")
    status=$?
    ok=1
    if ! diff -u "$dir/expected.out" "$tmp/out" >"$tmp/diff"; then
        ok=0
        echo "FAIL $name: standard output differs"
        cat "$tmp/diff"
    fi
    if [ -f "$dir/expected.err" ]; then
        want_err=$dir/expected.err
    else
        want_err=/dev/null
    fi
    if ! diff -u "$want_err" "$tmp/err" >"$tmp/diff"; then
        ok=0
        echo "FAIL $name: standard error differs"
        cat "$tmp/diff"
    fi
    if [ "$status" != "$want_status" ]; then
        ok=0
        echo "FAIL $name: exit status $status, expected $want_status"
    fi
    if [ $ok = 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
