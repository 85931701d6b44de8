#!/usr/bin/env bash
# What a migration costs a replica (issue 21): the replica's lag, sampled every 100 ms, while
# sluice copies and cuts over a $ROWS-row table at the default chunk size (--chunk-time 500),
# compared with the server's own blocking ALTER of an identical table. One private primary with
# one replica per server (scripts/dbs start --replica), stopped on exit.
#
#   bench/replica_lag.sh                      both servers, ROWS=1000000
#   ROWS=200000 ONLY=mysql bench/replica_lag.sh
#
# Lag is measured the same way on both servers, without writing: each sample reads the primary's
# position (MariaDB @@gtid_binlog_pos, PostgreSQL pg_current_wal_lsn()) and then the replica's
# applied position (@@gtid_slave_pos, pg_last_wal_replay_lsn()); a replica that has not applied
# the position sampled at time t is at least now - t behind (src/mysql/mysql_replica_lag.h does
# the same in sluice's throttle). The figures are lower bounds off by at most one sample
# interval, noisy on a shared machine: compare them only within one run.
#
# Writes Markdown to bench/results/replica_lag.md (not committed); every tool's output is kept
# next to it. Environment: ROWS (1000000), ONLY (mysql or postgres), SAMPLE_MS (100).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROWS=${ROWS:-1000000}
ONLY=${ONLY:-}
SAMPLE_MS=${SAMPLE_MS:-100}
RESULTS="$ROOT/bench/results"
SLUICE="$ROOT/build/cli/sluice"
PG_BIN=/usr/lib/postgresql/15/bin

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now_ms() { date +%s%3N; }

[[ -x "$SLUICE" ]] || scripts/build
mkdir -p "$RESULTS"
printf '*\n' >"$RESULTS/.gitignore"

SAMPLER_PID=""
cleanup() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null
  SLUICE_DBS_DIR="/tmp/sluice-bench-replica-$$" scripts/dbs stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Prints "ms primary_position replica_position server_lag_ms" every SAMPLE_MS until killed.
# Positions are numbers: the GTID sequence number of domain 0, or an LSN in bytes. The server's
# own lag is Seconds_Behind_Master (whole seconds) or pg_stat_replication.replay_lag.
sample_mysql() {
  while :; do
    local t p r
    t=$(now_ms)
    p=$(mariadb --no-defaults -S "$SOCK" -uroot -N -B -e 'SELECT @@global.gtid_binlog_pos')
    r=$(mariadb --no-defaults -S "$REPLICA_SOCK" -uroot -N -B -e 'SELECT @@global.gtid_slave_pos')
    s=$(mariadb --no-defaults -S "$REPLICA_SOCK" -uroot -e 'SHOW SLAVE STATUS\G' |
      awk '/Seconds_Behind_Master:/ { print ($2 == "NULL" ? -1 : $2 * 1000) }')
    echo "$t ${p##*-} ${r##*-} $s"
    sleep "$(awk -v ms="$SAMPLE_MS" 'BEGIN { print ms / 1000 }')"
  done
}
sample_postgres() {
  while :; do
    local t p r
    t=$(now_ms)
    p=$(as_pg "$PG_BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -qAt \
      -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
    r=$(as_pg "$PG_BIN/psql" -h "$REPLICA_SOCK" -p "$REPLICA_PORT" -U postgres -d postgres -qAt \
      -c "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint")
    s=$(as_pg "$PG_BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -qAt \
      -c "SELECT COALESCE(EXTRACT(EPOCH FROM replay_lag) * 1000, 0)::bigint FROM pg_stat_replication")
    echo "$t $p $r $s"
    sleep "$(awk -v ms="$SAMPLE_MS" 'BEGIN { print ms / 1000 }')"
  done
}

# lag_series SAMPLES: "ms lag_ms applied server_lag_ms" per sample (the lower bound described
# above; applied is 1 when the replica has applied the primary's position of that sample).
lag_series() {
  awk '{ t[NR] = $1; p[NR] = $2; r = $3
         while (j < NR && p[j + 1] <= r) j++       # samples 1..j are applied
         lag = (j + 1 <= NR && p[j + 1] > r) ? $1 - t[j + 1] : 0
         print $1, lag, (r >= $2 ? 1 : 0), $4 }' "$1"
}

# window_stats SERIES FROM_MS TO_MS: "max X ms, mean Y ms (server: max Z ms)" of the samples
# in [FROM, TO].
window_stats() {
  awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b { n++; s += $2; if ($2 > m) m = $2; if ($4 > z) z = $4 }
    END { if (n == 0) print "n/a"; else printf "max %d ms, mean %d ms (server: max %d ms)", m, s / n, z }' "$1"
}

# log_ms LOGFILE PATTERN: the epoch ms of the first sluice log line matching PATTERN.
log_ms() {
  local stamp
  stamp=$(grep -m 1 -E "$2" "$1" | awk '{ print $1 " " $2 }')
  [[ -n "$stamp" ]] && date -u -d "$stamp" +%s%3N || echo ""
}

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# caught_up_ms SERIES AFTER_MS: the first sample at or after AFTER_MS where the replica had
# applied everything the primary had.
caught_up_ms() { awk -v a="$2" '$1 >= a && $3 == 1 { print $1; exit }' "$1"; }

measure() {  # measure SERVER: fills the report for one server
  local server=$1 samples="$RESULTS/replica_lag_${1}_samples.txt"
  local series="$RESULTS/replica_lag_${1}_series.txt" sluice_log="$RESULTS/replica_lag_${1}_sluice.log"
  export SLUICE_DBS_DIR="/tmp/sluice-bench-replica-$$"
  eval "$(scripts/dbs start --only "$server" --replica)"
  local change blocking_sql
  if [[ $server == mysql ]]; then
    DSN=$SLUICE_TEST_MYSQL_DSN SOCK=$SLUICE_TEST_MYSQL_SOCKET
    REPLICA_SOCK=$SLUICE_TEST_MYSQL_REPLICA_SOCKET
    change="MODIFY k BIGINT NOT NULL DEFAULT 0"
    blocking_sql() { mariadb --no-defaults -S "$SOCK" -uroot sluice_test -e "ALTER TABLE sbtest2 $change, ALGORITHM=COPY"; }
    sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root \
      --mysql-db=sluice_test --tables=2 --table-size="$ROWS" prepare >"$RESULTS/replica_lag_${server}_prepare.log" 2>&1
  else
    DSN=$SLUICE_TEST_PG_DSN SOCK=$SLUICE_TEST_PG_SOCKET_DIR REPLICA_SOCK=$SLUICE_TEST_PG_STANDBY_SOCKET_DIR
    PORT=${DSN##*:} PORT=${PORT%%/*}
    REPLICA_PORT=${SLUICE_TEST_PG_STANDBY_DSN##*:} REPLICA_PORT=${REPLICA_PORT%%/*}
    change="ALTER COLUMN k TYPE bigint"
    blocking_sql() { as_pg "$PG_BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d sluice_test -c "ALTER TABLE sbtest2 $change"; }
    sysbench oltp_read_write --db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port="$PORT" \
      --pgsql-user=postgres --pgsql-db=sluice_test --tables=2 --table-size="$ROWS" prepare \
      >"$RESULTS/replica_lag_${server}_prepare.log" 2>&1
  fi
  log "$server: prepared 2 x $ROWS rows; waiting for the replica to apply them"
  "sample_$server" >"$samples" &
  SAMPLER_PID=$!
  sleep 1
  until lag_series "$samples" | awk 'END { exit !($3 == 1) }'; do sleep 0.5; done

  log "$server: sluice alter --execute (default chunk size)"
  local s0 s1 b0 b1 end
  s0=$(now_ms)
  "$SLUICE" alter --dsn "$DSN" --table sbtest1 --alter "$change" --execute >"$sluice_log" 2>&1
  s1=$(now_ms)
  sleep 1
  until lag_series "$samples" | awk 'END { exit !($3 == 1) }'; do sleep 0.5; done
  sleep 1
  log "$server: blocking ALTER of an identical table"
  b0=$(now_ms)
  blocking_sql >"$RESULTS/replica_lag_${server}_blocking.log" 2>&1
  b1=$(now_ms)
  sleep 1
  until lag_series "$samples" | awk 'END { exit !($3 == 1) }'; do sleep 0.5; done
  end=$(now_ms)
  kill "$SAMPLER_PID"
  SAMPLER_PID=""
  lag_series "$samples" >"$series"

  local copy0 copy1 verified cut_over
  copy0=$(log_ms "$sluice_log" "copying about")
  copy1=$(log_ms "$sluice_log" "copy 100.0%|verification blocked")
  verified=$(log_ms "$sluice_log" "verified [0-9]+ rows")
  cut_over=$(log_ms "$sluice_log" "cut-over done")
  {
    echo "### $server, $ROWS rows, \`$change\`"
    echo
    echo "| | time | replica lag |"
    echo "|---|---|---|"
    echo "| sluice copy (default --chunk-time 500) | $(secs "$copy0" "$copy1") s | $(window_stats "$series" "$copy0" "$copy1") |"
    echo "| sluice verification and cut-over, and 2 s after | $(secs "$copy1" "$cut_over") s | $(window_stats "$series" "$copy1" $((cut_over + 2000))) |"
    echo "| sluice, whole run | $(secs "$s0" "$s1") s | $(window_stats "$series" "$s0" "$s1"); caught up $(( ($(caught_up_ms "$series" "$s1") - s1) )) ms after sluice exited |"
    echo "| blocking ALTER (same change, identical table) | $(secs "$b0" "$b1") s | $(window_stats "$series" "$b0" "$end"); caught up $(( ($(caught_up_ms "$series" "$b1") - b1) )) ms after the ALTER returned |"
    echo
    echo "sluice: $(grep -o 'done in .*' "$sluice_log" || echo 'no summary (failed: see the log)')"
    echo
  } >>"$RESULTS/replica_lag.md"
  scripts/dbs stop >/dev/null
}

: >"$RESULTS/replica_lag.md"
echo "## Replica lag during a migration ($(date -u +%Y-%m-%d), sampled every $SAMPLE_MS ms)" >>"$RESULTS/replica_lag.md"
echo >>"$RESULTS/replica_lag.md"
for server in mysql postgres; do
  [[ -z "$ONLY" || "$ONLY" == "$server" ]] && measure "$server"
done
cat "$RESULTS/replica_lag.md"
