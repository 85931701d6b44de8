#!/usr/bin/env bash
# Application errors caused by sluice's MySQL cut-over (issue 17, item 5): N cut-overs under
# sysbench oltp_read_write, for each sluice binary given, on one private throwaway MariaDB.
#
#   bench/cutover_errors_mysql.sh                          build/cli/sluice, 20 cut-overs
#   bench/cutover_errors_mysql.sh OLD_SLUICE NEW_SLUICE    both, one after the other, same server
#   CUTOVERS=40 PLUGIN=0 bench/cutover_errors_mysql.sh     no metadata_lock_info plugin
#
# 1. Starts MariaDB (scripts/dbs, SLUICE_DBS_DIR=/tmp/sluice-cutover-bench-<pid>, stopped on
#    exit), installs the metadata_lock_info plugin unless PLUGIN=0, prepares sbtest1 ($ROWS rows).
# 2. Baseline: sysbench alone for $BASELINE s, to count the errors sysbench's own threads cause
#    each other (InnoDB row deadlocks), which are not sluice's.
# 3. For each binary: sysbench oltp_read_write --threads=$THREADS --skip-trx=off
#    --mysql-ignore-errors=all runs throughout while sluice runs `alter --execute --force-rebuild
#    --alter FORCE --drop-old-table` on sbtest1 $CUTOVERS times (copy, verification, cut-over).
# 4. Prints per binary: cut-overs done, cut-over attempts, sysbench's errors (summed from its
#    1-second reports: err/s over 1 s intervals is a count) and the server's Innodb_deadlocks
#    delta (row deadlocks; a metadata-lock deadlock is not counted there), and the write-block
#    times of the cut-over and of verification (min / median / max ms).
#
# 5. With DIGESTS=1 the server runs with performance_schema on, and each binary's run ends with
#    the statements that failed, by digest (events_statements_summary_by_digest.SUM_ERRORS): which
#    of sysbench's statements got the errors, and whether any of sluice's own failed.
#
# Environment: CUTOVERS (20), ROWS (20000), THREADS (4), BASELINE (20), WARMUP (3), PLUGIN (1),
# DIGESTS (0), SLUICE_DBS_MYSQL_ARGS, SYSBENCH_ARGS (e.g. --verbosity=5: sysbench then logs each error it
# ignores, with its code). Logs are kept in bench/results/cutover_errors/. Not a test: the machine
# is shared, so times are noisy; the error counts are what this measures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CUTOVERS=${CUTOVERS:-20}
ROWS=${ROWS:-20000}
THREADS=${THREADS:-4}
BASELINE=${BASELINE:-20}
WARMUP=${WARMUP:-3}
PLUGIN=${PLUGIN:-1}
DIGESTS=${DIGESTS:-0}
RESULTS="$ROOT/bench/results/cutover_errors"
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 ]] || BINARIES=("$ROOT/build/cli/sluice")
export SLUICE_DBS_DIR="/tmp/sluice-cutover-bench-$$"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

for binary in "${BINARIES[@]}"; do
  [[ -x "$binary" ]] || { echo "not an executable: $binary (scripts/build first)" >&2; exit 2; }
done
command -v sysbench >/dev/null || { echo "sysbench is missing: scripts/install-deps" >&2; exit 2; }
mkdir -p "$RESULTS"
printf '*\n' >"$ROOT/bench/results/.gitignore"  # results are not committed

LOAD_PID=""
stop_load() {
  if [[ -n "$LOAD_PID" ]]; then
    kill "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
  fi
  LOAD_PID=""
}
cleanup() {
  stop_load
  scripts/dbs stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ $DIGESTS == 1 ]] && export SLUICE_DBS_MYSQL_ARGS="${SLUICE_DBS_MYSQL_ARGS:-} --performance-schema=ON"
eval "$(scripts/dbs start --only mysql)"
SOCK=$SLUICE_TEST_MYSQL_SOCKET
DSN=${SLUICE_TEST_MYSQL_DSN%/*}/bench_cutover
sql() { mariadb --no-defaults -S "$SOCK" -uroot -N -B "$@"; }
[[ $PLUGIN == 1 ]] && sql -e "INSTALL SONAME 'metadata_lock_info'"
sql -e "CREATE DATABASE bench_cutover"
SB=(oltp_read_write --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root
  --mysql-db=bench_cutover --tables=1 --table-size="$ROWS")
sysbench "${SB[@]}" prepare >"$RESULTS/prepare.log" 2>&1
log "server $(sql -e 'SELECT VERSION()'), metadata_lock_info $([[ $PLUGIN == 1 ]] && echo installed || echo absent), sbtest1 of $ROWS rows, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

failed_statements() {  # the statements with errors since the last call, by digest
  [[ $DIGESTS == 1 ]] || return 0
  sql -e "SELECT SUM_ERRORS, LEFT(DIGEST_TEXT, 110) FROM performance_schema.events_statements_summary_by_digest
    WHERE SUM_ERRORS > 0 ORDER BY SUM_ERRORS DESC" | sed 's/^/    errors: /'
  sql -e "TRUNCATE performance_schema.events_statements_summary_by_digest"
}
deadlocks() { sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'" | awk '{ print $2 }'; }
start_load() {  # start_load LOGFILE
  sysbench "${SB[@]}" --threads="$THREADS" --skip-trx=off --mysql-ignore-errors=all ${SYSBENCH_ARGS:-} \
    --time=100000 --report-interval=1 run >"$1" 2>&1 &
  LOAD_PID=$!
}
# sysbench is stopped by a signal and prints no summary: sum the 1-second reports' field
sum_field() { awk -v f="$1" '/^\[ *[0-9]+s \]/ { for (i = 1; i <= NF; i++) if ($i == f) s += $(i + 1) }
  END { printf "%.0f", s }' "$2"; }
mean_tps() { awk '/^\[ *[0-9]+s \]/ { for (i = 1; i <= NF; i++) if ($i == "tps:") { s += $(i + 1); n++ } }
  END { printf "%.0f", n ? s / n : 0 }' "$1"; }
stats() {  # min / median / max of the numbers on stdin
  sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
    printf "%d / %d / %d", v[1], v[int((NR + 1) / 2)], v[NR] }'
}

# --- baseline: sysbench alone ----------------------------------------------------------------
failed_statements >/dev/null
d0=$(deadlocks)
start_load "$RESULTS/baseline.sysbench.log"
sleep "$BASELINE"
stop_load
BASE_ERRORS=$(sum_field err/s: "$RESULTS/baseline.sysbench.log")
BASE_DEADLOCKS=$(($(deadlocks) - d0))
log "baseline: sysbench alone for $BASELINE s: $BASE_ERRORS errors, Innodb_deadlocks +$BASE_DEADLOCKS, $(mean_tps "$RESULTS/baseline.sysbench.log") tps"
failed_statements >&2

# --- N cut-overs per binary under load -------------------------------------------------------
REPORT=()
index=0
for binary in "${BINARIES[@]}"; do
  index=$((index + 1))
  tag="run$index"
  sluice_log="$RESULTS/$tag.sluice.log"
  : >"$sluice_log"
  d0=$(deadlocks)
  start_load "$RESULTS/$tag.sysbench.log"
  sleep "$WARMUP"
  started=$(date +%s)
  done_ok=0
  failed=0
  for i in $(seq 1 "$CUTOVERS"); do
    if "$binary" alter --dsn "$DSN" --table sbtest1 --alter FORCE --force-rebuild --execute \
      --drop-old-table >>"$sluice_log" 2>&1; then
      done_ok=$((done_ok + 1))
    else
      failed=$((failed + 1))
      log "$tag: cut-over $i failed; last lines of $sluice_log:"
      tail -n 5 "$sluice_log" >&2
      sluice_cleanup=$("$binary" cleanup --dsn "$DSN" --table sbtest1 2>&1) || log "cleanup: $sluice_cleanup"
    fi
  done
  seconds=$(($(date +%s) - started))
  sleep "$WARMUP"
  alive=yes
  kill -0 "$LOAD_PID" 2>/dev/null || alive="NO (sysbench ended early: see $RESULTS/$tag.sysbench.log)"
  stop_load
  errors=$(sum_field err/s: "$RESULTS/$tag.sysbench.log")
  reconnects=$(sum_field reconn/s: "$RESULTS/$tag.sysbench.log")
  dl=$(($(deadlocks) - d0))
  attempts=$(grep -c "cut-over could not lock\|cut-over rename did not happen" "$sluice_log" || true)
  block=$(grep -o "writes were blocked for [0-9]* ms" "$sluice_log" | grep -o "[0-9][0-9]*" | stats)
  verify_block=$(grep -o "verification blocked writes for [0-9]* ms" "$sluice_log" | grep -o "[0-9][0-9]*" | stats)
  line="$binary: $done_ok of $CUTOVERS cut-overs done ($failed failed) in $seconds s; cut-over attempts that yielded: $attempts; sysbench errors: $errors (Innodb_deadlocks +$dl, reconnects $reconnects, mean $(mean_tps "$RESULTS/$tag.sysbench.log") tps, alive at the end: $alive); cut-over write block min/median/max: $block ms; verification write block: $verify_block ms"
  log "$line"
  failed_statements >&2
  REPORT+=("$line")
done

echo
echo "cut-overs under sysbench oltp_read_write --threads=$THREADS --skip-trx=off (sbtest1, $ROWS rows), metadata_lock_info $([[ $PLUGIN == 1 ]] && echo installed || echo absent):"
echo "baseline (sysbench alone, $BASELINE s): $BASE_ERRORS errors, Innodb_deadlocks +$BASE_DEADLOCKS"
printf '%s\n' "${REPORT[@]}"
echo "logs: $RESULTS/"
