#!/usr/bin/env bash
# scripts/dbs: start, start twice, stop, stop twice, start with replicas, a server that fails to
# start, a bad state directory. Each step checks the exit code, the message and that nothing is left running.
set -uo pipefail
DBS="$(dirname "$0")/../scripts/dbs"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

export SLUICE_DBS_DIR
SLUICE_DBS_DIR=$(mktemp -d /tmp/sluice-dbs-test.XXXXXX)
rmdir "$SLUICE_DBS_DIR"
trap '"$DBS" stop >/dev/null 2>&1' EXIT

out=$("$DBS" start 2>&1) || fail "start failed: $out"
grep -q "SLUICE_TEST_MYSQL_DSN='mysql://root@127.0.0.1:" <<<"$out" || fail "no MySQL DSN in: $out"
grep -q "SLUICE_TEST_PG_DSN='postgres://postgres@127.0.0.1:" <<<"$out" || fail "no PG DSN in: $out"
mysql_pid=$(cat "$SLUICE_DBS_DIR/mysql.pid")
pg_pid=$(cat "$SLUICE_DBS_DIR/postgres.pid")
[[ "$("$DBS" env)" == "$out" ]] || fail "env differs from what start printed"

out=$("$DBS" start 2>&1) && fail "a second start succeeded"
grep -q "already running" <<<"$out" || fail "second start said: $out"
kill -0 "$mysql_pid" 2>/dev/null || fail "a second start stopped the running MariaDB"

"$DBS" stop || fail "stop failed"
for pid in "$mysql_pid" "$pg_pid"; do
  state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
  [[ -z "$state" || "$state" == Z* ]] || fail "pid $pid still runs after stop"
done
[[ ! -e "$SLUICE_DBS_DIR" ]] || fail "stop left $SLUICE_DBS_DIR behind"
out=$("$DBS" stop 2>&1) || fail "a second stop failed"
grep -q "nothing to stop" <<<"$out" || fail "second stop said: $out"

out=$("$DBS" start --replica 2>&1) || fail "start --replica failed: $out"
for name in SLUICE_TEST_MYSQL_REPLICA_DSN SLUICE_TEST_PG_STANDBY_DSN; do
  grep -q "$name='" <<<"$out" || fail "no $name in: $out"
done
pids=()
for name in mysql mysql-replica postgres postgres-standby; do
  pids+=("$(cat "$SLUICE_DBS_DIR/$name.pid")")
done
replica_socket=$(sed -n "s/^export SLUICE_TEST_MYSQL_REPLICA_SOCKET='\(.*\)'$/\1/p" <<<"$out")
mariadb --no-defaults -S "$replica_socket" -uroot -e 'SHOW SLAVE STATUS\G' |
  grep -q "Slave_SQL_Running: Yes" || fail "the MariaDB replica is not replicating"
"$DBS" stop || fail "stop after start --replica failed"
for pid in "${pids[@]}"; do
  state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
  [[ -z "$state" || "$state" == Z* ]] || fail "pid $pid still runs after stop (replicas)"
done

out=$(SLUICE_DBS_MYSQL_ARGS=--no-such-option "$DBS" start 2>&1) && fail "a broken server started"
grep -q "MariaDB failed to start" <<<"$out" || fail "broken start said: $out"
[[ ! -e "$SLUICE_DBS_DIR" ]] || fail "a failed start left $SLUICE_DBS_DIR behind"
pgrep -f -- "--datadir=$SLUICE_DBS_DIR/" >/dev/null && fail "a failed start left a server running"

out=$(SLUICE_DBS_PG_SETTINGS="wal_level = nonsense" "$DBS" start 2>&1) && fail "a broken PostgreSQL started"
grep -q "PostgreSQL failed to start" <<<"$out" || fail "broken PostgreSQL start said: $out"
[[ ! -e "$SLUICE_DBS_DIR" ]] || fail "a failed PostgreSQL start left $SLUICE_DBS_DIR behind"
pgrep -f -- "$SLUICE_DBS_DIR/" >/dev/null && fail "a failed PostgreSQL start left a server running"

out=$(SLUICE_DBS_DIR=/proc/sluice-cannot-exist "$DBS" start 2>&1) && fail "start in /proc succeeded"
grep -q "cannot create the state directory" <<<"$out" || fail "bad state dir said: $out"

[[ $failures -eq 0 ]] && echo "scripts/dbs: all checks passed"
exit $((failures > 0))
