#!/usr/bin/env bash
# Whole-migration benchmark on PostgreSQL 15 (issue 6, "Performance"): one run, one private
# server.
#
#   bench/alter_postgres.sh                     1 M and 5 M rows idle, 1 M under load
#   SIZES=200000 LOAD_ROWS=200000 bench/...     smaller tables
#
# 1. For each size of $SIZES, sysbench prepares three identical tables sbtest1..3 in
#    sluice_test, and with no other load it times ALTER COLUMN k TYPE bigint (a change that
#    rewrites the table) with (a) the server's blocking ALTER TABLE on sbtest1, (b) pg_repack on
#    sbtest2 (which only rewrites the table: it cannot change a type, so it is the cost of an
#    online rewrite alone), (c) sluice alter --execute (verification included) on sbtest3.
# 3. Under sysbench oltp_write_only ($LOAD_THREADS threads) on a fresh table of $LOAD_ROWS rows
#    it runs sluice alter and reports the write-block time at verification and cut-over and
#    sysbench's throughput.
# 4. Prints the figures and writes them as Markdown to bench/results/alter_postgres.md; every
#    tool's full output is kept next to it in bench/results/.
#
# Environment: SIZES ("1000000 5000000"), LOAD_ROWS (1000000), LOAD_THREADS (4), WARMUP (5 s of load before sluice starts),
# COOLDOWN (3 s after), LOAD_MAX (3600 s, sysbench's --time cap), SKIP_LOAD=1 (only step 2),
# SLUICE_DBS_PG_SETTINGS (postgresql.conf lines, see scripts/dbs). Wall-clock seconds; the figures
# are noisy, compare them only within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib.sh
source bench/lib.sh

SIZES=${SIZES:-1000000 5000000}
LOAD_ROWS=${LOAD_ROWS:-1000000}
LOAD_THREADS=${LOAD_THREADS:-4}
WARMUP=${WARMUP:-5}
COOLDOWN=${COOLDOWN:-3}
LOAD_MAX=${LOAD_MAX:-3600}
CHANGE="ALTER COLUMN k TYPE bigint"
RESULTS="$ROOT/bench/results"
SLUICE="$ROOT/build/cli/sluice"
export SLUICE_DBS_DIR="/tmp/sluice-bench-pg-$$"


scripts/install-deps
[[ -x "$SLUICE" ]] || scripts/build
mkdir -p "$RESULTS"
printf '*\n' >"$RESULTS/.gitignore"  # results are not committed

stop_load() { [[ -n "${LOAD_PID:-}" ]] && kill "$LOAD_PID" 2>/dev/null; LOAD_PID=""; }
cleanup() {
  stop_load || true
  scripts/dbs stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(scripts/dbs start --only postgres)"
DSN=$SLUICE_TEST_PG_DSN
PORT=${DSN##*:}
PORT=${PORT%%/*}
psql_do() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -At "$@"; }
SERVER=$(psql_do -d sluice_test -c "SELECT version()" | cut -d, -f1)
SERVER="$SERVER, shared_buffers $(psql_do -d sluice_test -c 'SHOW shared_buffers')"
log "server: $SERVER ($DSN)"
psql_do -d sluice_test -c "CREATE EXTENSION IF NOT EXISTS pg_repack"

SB=(--db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port="$PORT" --pgsql-user=postgres)
k_type() {  # k_type DB TABLE
  psql_do -d "$1" -c "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                      WHERE attrelid = '$2'::regclass AND attname = 'k'"
}


phases() {  # where sluice's time goes, from its log's timestamps
  awk '
    function t(   a) { split($2, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    $3 == "info" && first == "" { first = t() }
    /copying about [0-9]+ rows/ { c0 = t() }
    /rows under the change stream.s snapshot/ { c1 = t(); rows = $5 }
    /built a key or unique index/ { k1 = t() }
    /changes committed during the copy/ { b1 = t(); backlog = $6; split($0, r, /[(]/)
      brate = r[2] + 0; wrate = r[3] + 0 }
    /verified [0-9]+ rows/ { v = t() }
    /cut-over done/ { x = t() }
    END {
      if (c1 == "" || v == "" || x == "") { print "n/a (incomplete log)"; exit }
      if (k1 == "") k1 = c1
      if (b1 == "") b1 = k1
      printf "setup %.2f s, copy %.2f s (%.0f rows/s), key indexes %.2f s, stream from the slot " \
        "(decoding the copy, applying %s changes at %s/s; the applier wrote %s/s while writing) " \
        "%.2f s, verify %.2f s, cut-over %.2f s", \
        c0 - first, c1 - c0, (c1 > c0 ? rows / (c1 - c0) : 0), k1 - c1, backlog, brate, wrate, \
        b1 - k1, v - b1, x - v
    }' "$1"
}
block_at() { grep -o "$2 [0-9]* ms" "$1" | grep -o '[0-9]*' | tail -n 1 || echo "n/a"; }
# sluice's peak RSS, from GNU time, appended to pg_rss.log (one line per run: each size, then
# the run under load).
rm -f "$RESULTS/pg_rss.log"
RSS=(/usr/bin/time -a -o "$RESULTS/pg_rss.log" -f "%M")

idle_run() {  # idle_run ROWS: prepares three identical tables and times the three tools on them
  local rows=$1 t
  log "sysbench prepare: 3 tables x $rows rows"
  psql_do -d sluice_test -c "DROP TABLE IF EXISTS sbtest1, sbtest2, sbtest3, _sbtest3_old"
  t0=$(now)
  sysbench oltp_read_write "${SB[@]}" --pgsql-db=sluice_test --tables=3 --table-size="$rows" \
    prepare >"$RESULTS/pg_prepare_$rows.log" 2>&1
  psql_do -d sluice_test -c "VACUUM ANALYZE sbtest1, sbtest2, sbtest3" -c "CHECKPOINT"
  log "prepared in $(elapsed "$t0" "$(now)") s"
  run_timed "alter@$rows" "$RESULTS/pg_idle_alter_$rows.log" \
    psql_do -d sluice_test -c "ALTER TABLE sbtest1 $CHANGE"
  run_timed "repack@$rows" "$RESULTS/pg_idle_repack_$rows.log" \
    pg_repack -h 127.0.0.1 -p "$PORT" -U postgres -d sluice_test -t sbtest2
  run_timed "sluice@$rows" "$RESULTS/pg_idle_sluice_$rows.log" \
    "${RSS[@]}" "$SLUICE" alter --dsn "$DSN" --table sbtest3 --alter "$CHANGE" --execute
  for t in sbtest1 sbtest2 sbtest3; do
    log "sluice_test.$t: k is $(k_type sluice_test "$t"), $(psql_do -d sluice_test -c "SELECT count(*) FROM $t") rows"
  done
  IDLE_PHASES[$rows]=$(phases "$RESULTS/pg_idle_sluice_$rows.log")
  IDLE_SUMMARY[$rows]=$(grep -o 'done in .*' "$RESULTS/pg_idle_sluice_$rows.log" || echo "no summary line (failed)")
  IDLE_RSS[$rows]=$(tail -n 1 "$RESULTS/pg_rss.log" 2>/dev/null || echo n/a)
}
declare -A IDLE_PHASES IDLE_SUMMARY IDLE_RSS
for rows in $SIZES; do
  idle_run "$rows"
done

LOAD_SECONDS="" LOAD_STATUS="" LOAD_BLOCK="n/a" LOAD_VERIFY_BLOCK="n/a" LOAD_TPS="" LOAD_MIN_TPS=""
LOAD_ERRORS="" LOAD_NOTE=""
if [[ "${SKIP_LOAD:-0}" != 1 ]]; then
  log "under load: preparing bench_load.sbtest1 ($LOAD_ROWS rows)"
  psql_do -d sluice_test -c "DROP DATABASE IF EXISTS bench_load" -c "CREATE DATABASE bench_load"
  sysbench oltp_read_write "${SB[@]}" --pgsql-db=bench_load --tables=1 --table-size="$LOAD_ROWS" \
    prepare >"$RESULTS/pg_load.prepare.log" 2>&1
  psql_do -d bench_load -c "VACUUM ANALYZE sbtest1"
  sb_log="$RESULTS/pg_load.sysbench.log"
  sysbench oltp_write_only "${SB[@]}" --pgsql-db=bench_load --tables=1 --table-size="$LOAD_ROWS" \
    --threads="$LOAD_THREADS" --time="$LOAD_MAX" --report-interval=1 --percentile=100 run \
    >"$sb_log" 2>&1 &
  LOAD_PID=$!
  sleep "$WARMUP"
  tool_start_s=$(awk '/^\[ *[0-9]+s \]/ { n = $2 } END { print n + 0 }' "$sb_log")
  log "sluice under load ($LOAD_THREADS sysbench threads)"
  start=$(now)
  rc=0
  "${RSS[@]}" "$SLUICE" alter --dsn "${DSN%/*}/bench_load" --table sbtest1 --alter "$CHANGE" \
    --execute >"$RESULTS/pg_load_sluice.log" 2>&1 || rc=$?
  LOAD_SECONDS=$(elapsed "$start" "$(now)")
  LOAD_STATUS=$rc
  tool_end_s=$(awk '/^\[ *[0-9]+s \]/ { n = $2 } END { print n + 1 }' "$sb_log")
  sleep "$COOLDOWN"
  if kill -0 "$LOAD_PID" 2>/dev/null; then
    kill "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
  else
    wait "$LOAD_PID" || LOAD_NOTE+="sysbench ABORTED while sluice ran: $(grep -m1 -E 'FATAL|error' "$sb_log" | tr '|' '/' || true); "
  fi
  LOAD_PID=""
  [[ $rc -eq 0 ]] || { LOAD_NOTE+="sluice FAILED (exit $rc); "; tail -n 15 "$RESULTS/pg_load_sluice.log" >&2; }
  sum_field() {
    awk -v f="$1" '/^\[ *[0-9]+s \]/ { for (i = 1; i <= NF; i++) if ($i == f) s += $(i + 1); n++ }
      END { if (f == "tps:") printf "%.0f", (n ? s / n : 0); else printf "%.0f", s }' "$sb_log"
  }
  LOAD_TPS=$(sum_field tps:)
  LOAD_ERRORS=$(sum_field err/s:)
  LOAD_MIN_TPS=$(awk -v a="$tool_start_s" -v b="$tool_end_s" '
    /^\[ *[0-9]+s \]/ { s = $2; sub(/s/, "", s); if (s + 0 > a && s + 0 <= b) {
      for (i = 1; i <= NF; i++) if ($i == "tps:") { v = $(i + 1) + 0; if (min == "" || v < min) min = v } } }
    END { print (min == "" ? "n/a" : min) }' "$sb_log")
  # The cut-over ends the tool's run: its last two seconds hold the cut-over's write block.
  LOAD_MAX_LATENCY=$(max_latency "$sb_log" "$tool_start_s" "$tool_end_s")
  LOAD_MAX_LATENCY_OUTSIDE=$(max_latency "$sb_log" "$tool_start_s" "$((tool_end_s - 2))")
  LOAD_BLOCK=$(block_at "$RESULTS/pg_load_sluice.log" "writes were blocked for")
  LOAD_VERIFY_BLOCK=$(block_at "$RESULTS/pg_load_sluice.log" "verification blocked writes for")
  LOAD_PHASES=$(phases "$RESULTS/pg_load_sluice.log")
  LOAD_SUMMARY=$(grep -o 'done in .*' "$RESULTS/pg_load_sluice.log" || echo "no summary line (failed)")
  log "sluice under load: ${LOAD_SECONDS} s, writes blocked ${LOAD_BLOCK} ms, sysbench tps $LOAD_TPS (lowest $LOAD_MIN_TPS); k is $(k_type bench_load sbtest1)"
fi

{
  echo "### sluice alter vs blocking ALTER vs pg_repack (PostgreSQL)"
  echo
  echo "\`$CHANGE\` on identical sysbench tables, no other load, one run on $(date -u +'%Y-%m-%d %H:%M') UTC"
  echo "(server $SERVER; $(nproc) CPUs). Wall-clock seconds (× blocking ALTER)."
  echo
  idle_table "alter=\`ALTER TABLE … $CHANGE\` (blocks reads and writes throughout)" "repack=\`pg_repack -t\` (online rewrite only, no type change)" "sluice=\`sluice alter --execute\` (verification included)"
  for rows in $SIZES; do
    r_sluice=$(ratio "${SECONDS_OF[sluice@$rows]:-}" "${SECONDS_OF[alter@$rows]:-}")
    r_sr=$(ratio "${SECONDS_OF[sluice@$rows]:-}" "${SECONDS_OF[repack@$rows]:-}")
    echo
    echo "$rows rows: sluice / pg_repack **$r_sr** (target ≤ 1.2: $(target "$r_sr" 1.2)); sluice / blocking ALTER **$r_sluice** (target ≤ 1.2: $(target "$r_sluice" 1.2)); sluice's peak RSS ${IDLE_RSS[$rows]} KB."
    echo "sluice: ${IDLE_SUMMARY[$rows]}"
    echo "sluice's time (from its log): ${IDLE_PHASES[$rows]}."
  done
  if [[ "${SKIP_LOAD:-0}" != 1 ]]; then
    echo
    echo "Under \`sysbench oltp_write_only --threads=$LOAD_THREADS\` on a fresh ${LOAD_ROWS}-row table:"
    echo
    echo "| tool | seconds | writes blocked at cut-over | at verification | sysbench mean tps | lowest 1 s tps during the tool | sysbench errors (≈) | notes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    echo "| \`sluice alter --execute\`$(status "$LOAD_STATUS") | $LOAD_SECONDS | $LOAD_BLOCK ms | $LOAD_VERIFY_BLOCK ms | $LOAD_TPS | $LOAD_MIN_TPS | $LOAD_ERRORS | $LOAD_NOTE |"
    echo
    echo "sluice write-block under load: ${LOAD_BLOCK} ms (target ≤ 50 ms: $(target "$LOAD_BLOCK" 50)); sysbench's worst latency while sluice ran: ${LOAD_MAX_LATENCY:-n/a} ms, outside the cut-over's last two seconds ${LOAD_MAX_LATENCY_OUTSIDE:-n/a} ms (target ≤ 20 ms: $(target "${LOAD_MAX_LATENCY_OUTSIDE:-n/a}" 20)); sluice's peak RSS: $(tail -n 1 "$RESULTS/pg_rss.log" 2>/dev/null || echo n/a) KB."
    echo "sluice under load: $LOAD_SUMMARY"
    echo
    echo "sluice's time under load (from its log): $LOAD_PHASES."
  fi
} >"$RESULTS/alter_postgres.md"

echo
cat "$RESULTS/alter_postgres.md"
echo
echo "written to bench/results/alter_postgres.md; full tool output in bench/results/pg_*.log"
