#!/usr/bin/env bash
# `make test`: the whole suite in two lanes at once, then the node suite on PostgreSQL.
#
# The system tests (tests/system) spend most of their time waiting for brokers, databases and
# processes they start; run one after the other behind the rest they made CI last ~30 minutes on a
# 2-core machine. Each lane is its own pytest process with its own private RabbitMQ (own ports, own
# epmd), so the lanes share nothing. The system lane's output is kept in a file and printed when it ends.
#
# Usage: NODE_SUITE='tests...' tests/run_suite.sh PYTHON [PYTEST_ARGS...]   (with arguments: one plain
# pytest run of them)
set -u
PY=$1; shift

fail_on_empty() {  # pytest's exit code 5 ("no tests collected") must fail, not pass silently
  if [ "$1" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
  return "$1"
}

if [ $# -gt 0 ]; then
  "$PY" -m pytest --durations=25 "$@"; fail_on_empty $?; exit $?
fi

read -r -a NODE_SUITE <<<"${NODE_SUITE:?the Makefile names the node suite}"

system_log=$(mktemp -t somex-system-tests.XXXXXX)
started=$(date +%s)
echo "== lane 1: tests/system, alongside (its output follows when it ends: $system_log)"
"$PY" -m pytest --durations=15 tests/system >"$system_log" 2>&1 &
system_pid=$!
trap 'kill -INT "$system_pid" 2>/dev/null; wait "$system_pid" 2>/dev/null; exit 130' INT TERM

echo "== lane 2: tests/unit, tests/integration, tests/browser"
"$PY" -m pytest --durations=15 tests/unit tests/integration tests/browser
fail_on_empty $?; rc_main=$?
rc_pg=0
if [ "$rc_main" -eq 0 ]; then
  echo "== lane 2: the node suite again, nodes on PostgreSQL"
  SOMEX_TEST_NODE_DB=postgresql "$PY" -m pytest -m "not sqlite_only and not sqlite_speed" "${NODE_SUITE[@]}"
  fail_on_empty $?; rc_pg=$?
fi

echo "== lane 1 (tests/system): waiting for it"
wait "$system_pid"; rc_system=$?
trap - INT TERM
cat "$system_log"; rm -f "$system_log"
fail_on_empty "$rc_system"; rc_system=$?
echo "== suite: lane 2 exit $rc_main, PostgreSQL node suite exit $rc_pg, system lane exit $rc_system; $(( $(date +%s) - started )) s in all"
[ "$rc_main" -eq 0 ] && [ "$rc_pg" -eq 0 ] && [ "$rc_system" -eq 0 ]
