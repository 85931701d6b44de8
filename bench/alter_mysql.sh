#!/usr/bin/env bash
# Whole-migration benchmark on MariaDB (issue 5, "Performance"): one run, one private server.
#
#   bench/alter_mysql.sh                            1 M and 5 M rows idle, 1 M under load
#   SIZES=200000 LOAD_ROWS=200000 bench/alter_mysql.sh  smaller tables
#
# 1-2. For each size of $SIZES, sysbench prepares three identical tables sbtest1..3 in
#    sluice_test, and with no other load it times MODIFY k BIGINT NOT NULL DEFAULT 0 (a change
#    that copies) with (a) the server's blocking ALTER TABLE … ALGORITHM=COPY on sbtest1,
#    (b) pt-online-schema-change on sbtest2, (c) sluice alter --execute (verification included)
#    on sbtest3.
# 3. Under sysbench oltp_write_only ($LOAD_THREADS threads) on a fresh table of $LOAD_ROWS rows
#    it runs sluice alter,
#    then pt-online-schema-change, and reports sluice's write-block time at cut-over, its progress
#    lines (changes applied / held back), sysbench's throughput, ignored errors (deadlock 1213,
#    lock wait timeout 1205, 1020) and reconnects, and the server's Innodb_deadlocks delta.
# 4. Prints the figures and writes them as Markdown to bench/results/alter_mysql.md; every
#    tool's full output is kept next to it in bench/results/.
#
# Environment: SIZES ("1000000 5000000"), LOAD_ROWS (1000000), LOAD_THREADS (4), WARMUP (5 s of load before the tool starts),
# COOLDOWN (3 s of load after it ends; then sysbench is stopped), LOAD_MAX (3600 s: sysbench's
# --time, a safety cap), SKIP_LOAD=1 (only
# step 2), SKIP_PTOSC_LOAD=1 (no pt-osc under load), SLUICE_DBS_MYSQL_ARGS (extra mariadbd
# arguments, passed to scripts/dbs). Wall-clock seconds from `date +%s.%N`; the figures are noisy,
# compare them only within one run.
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
CHANGE="MODIFY k BIGINT NOT NULL DEFAULT 0"
RESULTS="$ROOT/bench/results"
SLUICE="$ROOT/build/cli/sluice"
export SLUICE_DBS_DIR="/tmp/sluice-bench-$$"


scripts/install-deps
[[ -x "$SLUICE" ]] || scripts/build
mkdir -p "$RESULTS"
printf '*\n' >"$RESULTS/.gitignore"  # results are not committed

# --- a private server, stopped however the script ends -------------------------------------
stop_load() { [[ -n "${LOAD_PID:-}" ]] && kill "$LOAD_PID" 2>/dev/null; LOAD_PID=""; }
cleanup() {
  stop_load || true
  scripts/dbs stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(scripts/dbs start --only mysql)"
SOCK=$SLUICE_TEST_MYSQL_SOCKET
DSN=$SLUICE_TEST_MYSQL_DSN
LOAD_DSN=${DSN%/*}/bench_load
sql() { mariadb --no-defaults -S "$SOCK" -uroot -N -B "$@"; }
SERVER=$(sql -e "SELECT CONCAT(VERSION(), ', innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576, ' MiB')")
log "server: $SERVER ($DSN)"

SB=(--db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root)

k_type() {  # k_type DB TABLE: the column type of k afterwards
  sql -e "SELECT COLUMN_TYPE FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = '$1' AND TABLE_NAME = '$2' AND COLUMN_NAME = 'k'"
}

# --- 2. idle timings --------------------------------------------------------------------------

# pt-osc's own default drops the old table; sluice keeps it as _T_old, so keep it here too.
PTOSC_FLAGS=(--no-drop-old-table ${PTOSC_ARGS:-})

# where sluice's time goes, from its log's timestamps ("2026-11-23 23:39:28.186 info …")
phases() {
  awk '
    function t(   a) { split($2, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    $3 == "info" && first == "" { first = t() }
    /copying about [0-9]+ rows/ { c0 = t() }
    /info (verify [0-9.]+%|verification blocked)/ && c1 == "" { c1 = t() }
    /rows copied/ { rows = $0; sub(/.*ms: /, "", rows); sub(/ rows copied.*/, "", rows) }
    /verified [0-9]+ rows/ { v = t() }
    /cut-over done/ { x = t() }
    END {
      if (c1 == "" || v == "" || x == "") { print "n/a (incomplete log)"; exit }
      printf "setup %.2f s, copy %.2f s (%.0f rows/s overall), drain + verify %.2f s, catch-up + cut-over %.2f s", \
        c0 - first, c1 - c0, rows / (c1 - c0 > 0 ? c1 - c0 : 1), v - c1, x - v
    }' "$1"
}
block_at() { grep -o "$2 [0-9]* ms" "$1" | grep -o '[0-9]*' | tail -n 1 || echo "n/a"; }
# sluice runs under /usr/bin/time -v: its peak resident memory, in MiB
peak_rss() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }

declare -A IDLE_SLUICE_PHASES IDLE_SLUICE_SUMMARY IDLE_SLUICE_RSS
idle_run() {  # idle_run ROWS: prepares three identical tables and times the three tools on them
  local rows=$1 t
  log "sysbench prepare: 3 tables x $rows rows"
  sql -e "DROP DATABASE IF EXISTS sluice_test; CREATE DATABASE sluice_test"
  t0=$(now)
  sysbench oltp_read_write "${SB[@]}" --mysql-db=sluice_test --tables=3 --table-size="$rows" \
    prepare >"$RESULTS/prepare_$rows.log" 2>&1
  log "prepared in $(elapsed "$t0" "$(now)") s"
  run_timed "alter@$rows" "$RESULTS/idle_alter_$rows.log" \
    sql sluice_test -e "ALTER TABLE sbtest1 $CHANGE, ALGORITHM=COPY"
  run_timed "ptosc@$rows" "$RESULTS/idle_ptosc_$rows.log" \
    pt-online-schema-change --alter "$CHANGE" "${PTOSC_FLAGS[@]}" --execute \
    "D=sluice_test,t=sbtest2,S=$SOCK,u=root"
  run_timed "sluice@$rows" "$RESULTS/idle_sluice_$rows.log" \
    /usr/bin/time -v "$SLUICE" alter --dsn "$DSN" --table sbtest3 --alter "$CHANGE" --execute
  for t in sbtest1 sbtest2 sbtest3; do
    log "sluice_test.$t: k is $(k_type sluice_test "$t"), $(sql -e "SELECT COUNT(*) FROM sluice_test.$t") rows"
  done
  IDLE_SLUICE_PHASES[$rows]=$(phases "$RESULTS/idle_sluice_$rows.log")
  IDLE_SLUICE_SUMMARY[$rows]=$(grep -o 'done in .*' "$RESULTS/idle_sluice_$rows.log" || echo "no summary line (failed)")
  IDLE_SLUICE_RSS[$rows]=$(peak_rss "$RESULTS/idle_sluice_$rows.log")
}
for rows in $SIZES; do
  idle_run "$rows"
done

# --- 3. under concurrent writes -------------------------------------------------------------
declare -A LOAD_SECONDS LOAD_STATUS LOAD_BLOCK LOAD_TPS LOAD_ERRORS LOAD_RECONNECTS LOAD_DEADLOCKS \
  LOAD_NOTE LOAD_MIN_TPS LOAD_MAX_LATENCY
deadlocks() { sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'" | awk '{ print $2 }'; }

run_under_load() {  # run_under_load NAME COMMAND...: the tool runs against bench_load.sbtest1
  local name=$1 sb_log="$RESULTS/load_$1.sysbench.log" tool_log="$RESULTS/load_$1.log"
  local start end rc=0 d0 d1 tool_start_s tool_end_s
  shift
  log "$name under load: preparing bench_load.sbtest1 ($LOAD_ROWS rows)"
  sql -e "DROP DATABASE IF EXISTS bench_load; CREATE DATABASE bench_load"
  sysbench oltp_read_write "${SB[@]}" --mysql-db=bench_load --tables=1 --table-size="$LOAD_ROWS" \
    prepare >"$RESULTS/load_$name.prepare.log" 2>&1
  d0=$(deadlocks)
  sysbench oltp_write_only "${SB[@]}" --mysql-db=bench_load --tables=1 --table-size="$LOAD_ROWS" \
    --threads="$LOAD_THREADS" --time="$LOAD_MAX" --report-interval=1 --percentile=100 run \
    >"$sb_log" 2>&1 &
  LOAD_PID=$!
  sleep "$WARMUP"
  tool_start_s=$(awk '/^\[ *[0-9]+s \]/ { n = $2 } END { print n + 0 }' "$sb_log")
  log "$name under load ($LOAD_THREADS sysbench threads): $*"
  start=$(now)
  "$@" >"$tool_log" 2>&1 || rc=$?
  end=$(now)
  LOAD_SECONDS[$name]=$(elapsed "$start" "$end")
  LOAD_STATUS[$name]=$rc
  LOAD_NOTE[$name]=""
  tool_end_s=$(awk '/^\[ *[0-9]+s \]/ { n = $2 } END { print n + 1 }' "$sb_log")
  sleep "$COOLDOWN"
  local load_alive=1
  kill -0 "$LOAD_PID" 2>/dev/null || load_alive=0
  log "$name finished (exit $rc) in ${LOAD_SECONDS[$name]} s; stopping sysbench"
  local sb_rc=0
  if [[ $load_alive -eq 1 ]]; then
    kill "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
  else
    wait "$LOAD_PID" || sb_rc=$?
  fi
  LOAD_PID=""
  d1=$(deadlocks)
  LOAD_DEADLOCKS[$name]=$((d1 - d0))
  # sysbench is stopped by a signal, so it prints no summary: sum its 1-second interval lines
  # ("[ 7s ] thds: 4 tps: 512.00 … err/s: 0.00 reconn/s: 0.00") over the whole load run
  sum_field() {
    awk -v f="$1" '/^\[ *[0-9]+s \]/ { for (i = 1; i <= NF; i++) if ($i == f) s += $(i + 1); n++ }
      END { if (f == "tps:") printf "%.0f", (n ? s / n : 0); else printf "%.0f", s }' "$sb_log"
  }
  LOAD_TPS[$name]=$(sum_field tps:)
  LOAD_MAX_LATENCY[$name]=$(max_latency "$sb_log" "$tool_start_s" "$tool_end_s")
  LOAD_ERRORS[$name]=$(sum_field err/s:)
  LOAD_RECONNECTS[$name]=$(sum_field reconn/s:)
  # lowest 1-second throughput while the tool ran (interval lines "[ Ns ] … tps: X …")
  LOAD_MIN_TPS[$name]=$(awk -v a="$tool_start_s" -v b="$tool_end_s" '
    /^\[ *[0-9]+s \]/ { s = $2; sub(/s/, "", s); if (s + 0 > a && s + 0 <= b) {
      for (i = 1; i <= NF; i++) if ($i == "tps:") { v = $(i + 1) + 0; if (min == "" || v < min) min = v } } }
    END { print (min == "" ? "n/a" : min) }' "$sb_log")
  if [[ $sb_rc -ne 0 ]]; then
    LOAD_NOTE[$name]+="the application (sysbench) ABORTED (exit $sb_rc) while the tool ran: $(grep -m1 -E 'FATAL|error' "$sb_log" | tr '|' '/' || true); "
  elif [[ $load_alive -eq 0 ]]; then
    LOAD_NOTE[$name]+="sysbench had ended before the tool finished (raise LOAD_MAX); "
  fi
  if [[ $rc -ne 0 ]]; then
    LOAD_NOTE[$name]+="tool FAILED (exit $rc), see bench/results/load_$name.log; "
    tail -n 15 "$tool_log" >&2
  fi
  log "$name: sysbench tps ${LOAD_TPS[$name]:-?}, lowest 1 s tps while the tool ran ${LOAD_MIN_TPS[$name]}, ignored errors ${LOAD_ERRORS[$name]:-?}, reconnects ${LOAD_RECONNECTS[$name]:-?}, Innodb_deadlocks +${LOAD_DEADLOCKS[$name]}; k is $(k_type bench_load sbtest1)"
}

if [[ "${SKIP_LOAD:-0}" != 1 ]]; then
  run_under_load sluice /usr/bin/time -v "$SLUICE" alter --dsn "$LOAD_DSN" --table sbtest1 --alter "$CHANGE" --execute
  LOAD_BLOCK[sluice]=$(block_at "$RESULTS/load_sluice.log" "writes blocked for")
  LOAD_VERIFY_BLOCK=$(block_at "$RESULTS/load_sluice.log" "verification blocked writes for")
  LOAD_SLUICE_PHASES=$(phases "$RESULTS/load_sluice.log")
  LOAD_SLUICE_SUMMARY=$(grep -o 'done in .*' "$RESULTS/load_sluice.log" || echo "no summary line (failed)")
  LOAD_SLUICE_RSS=$(peak_rss "$RESULTS/load_sluice.log")
  # changes applied per second of the whole run, and the stream lag of the last progress line
  LOAD_APPLIED=$(grep -o '[0-9]* changes applied' "$RESULTS/load_sluice.log" | tail -n 1 | grep -o '^[0-9]*' || echo 0)
  LOAD_APPLY_RATE=$(awk -v n="$LOAD_APPLIED" -v s="${LOAD_SECONDS[sluice]}" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  LOAD_LAG=$(grep -o 'stream lag [0-9.]* s' "$RESULTS/load_sluice.log" | tail -n 1 || echo "n/a")
  if [[ "${SKIP_PTOSC_LOAD:-0}" != 1 ]]; then
    run_under_load ptosc pt-online-schema-change --alter "$CHANGE" "${PTOSC_FLAGS[@]}" --execute \
      "D=bench_load,t=sbtest1,S=$SOCK,u=root"
    LOAD_BLOCK[ptosc]="not measured"
  fi
fi

# --- 4. report -------------------------------------------------------------------------------
{
  echo "### sluice alter vs blocking ALTER vs pt-online-schema-change (MariaDB)"
  echo
  echo "\`$CHANGE\` on identical sysbench tables, no other load, one run on $(date -u +'%Y-%m-%d %H:%M') UTC"
  echo "(server $SERVER; $(nproc) CPUs). Wall-clock seconds (× blocking ALTER)."
  echo
  idle_table "alter=\`ALTER TABLE … ALGORITHM=COPY\` (blocks writes throughout)" "ptosc=\`pt-online-schema-change\`" "sluice=\`sluice alter --execute\` (verification included)"
  for rows in $SIZES; do
    r_sluice=$(ratio "${SECONDS_OF[sluice@$rows]:-}" "${SECONDS_OF[alter@$rows]:-}")
    r_sp=$(ratio "${SECONDS_OF[sluice@$rows]:-}" "${SECONDS_OF[ptosc@$rows]:-}")
    echo
    echo "$rows rows: sluice / pt-online-schema-change **$r_sp** (target < 1: $(target "$r_sp" 0.9999)); sluice / blocking ALTER **$r_sluice** (target ≤ 1.3: $(target "$r_sluice" 1.3))."
    echo "sluice: ${IDLE_SLUICE_SUMMARY[$rows]}"
    echo "sluice's time (from its log): ${IDLE_SLUICE_PHASES[$rows]}; peak RSS ${IDLE_SLUICE_RSS[$rows]} MiB."
  done
  if [[ "${SKIP_LOAD:-0}" != 1 ]]; then
    echo
    echo "Under \`sysbench oltp_write_only --threads=$LOAD_THREADS\` on a fresh ${LOAD_ROWS}-row table (load from ${WARMUP} s before the tool starts to ${COOLDOWN} s after it ends):"
    echo
    echo "| tool | seconds | writes blocked at cut-over | sysbench mean tps | lowest 1 s tps during the tool | worst latency during the tool (ms) | sysbench errors (≈, from err/s) | reconnects (≈) | Innodb_deadlocks | notes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for name in sluice ptosc; do
      [[ -n "${LOAD_SECONDS[$name]:-}" ]] || continue
      label=$([[ $name == sluice ]] && echo '`sluice alter --execute`' || echo '`pt-online-schema-change`')
      block=${LOAD_BLOCK[$name]}
      [[ $block =~ ^[0-9]+$ ]] && block="$block ms"
      echo "| $label | ${LOAD_SECONDS[$name]} | $block | ${LOAD_TPS[$name]:-?} | ${LOAD_MIN_TPS[$name]} | ${LOAD_MAX_LATENCY[$name]} | ${LOAD_ERRORS[$name]:-?} | ${LOAD_RECONNECTS[$name]:-?} | ${LOAD_DEADLOCKS[$name]} | ${LOAD_NOTE[$name]} |"
    done
    echo
    blk=${LOAD_BLOCK[sluice]}
    echo "sluice write-block under load: ${blk} ms (target < 1000 ms: $(target "$blk" 999); typical target < 200 ms: $(target "$blk" 199))."
    echo "sluice's verification also blocked writes for ${LOAD_VERIFY_BLOCK} ms (consistent snapshot)."
    echo "sluice under load: $LOAD_SLUICE_SUMMARY"
    echo
    echo "sluice's time under load (from its log): $LOAD_SLUICE_PHASES; peak RSS ${LOAD_SLUICE_RSS} MiB;"
    echo "${LOAD_APPLIED} changes applied, ${LOAD_APPLY_RATE} per second of the run; last progress line's ${LOAD_LAG}."
    echo
    echo "sluice progress under load (changes applied / held back for uncopied key ranges):"
    echo
    echo '```'
    grep -E 'copy [0-9.]+%|stream|binlog|reconnect|verif|cut-over|cutover|lag|held|retry|warn|error' "$RESULTS/load_sluice.log" | tail -n 30 || true
    echo '```'
    echo
    echo "sysbench errors are the ones it retries (1213 deadlock, 1205 lock wait timeout, 1020),"
    echo "summed from its 1-second reports; any other error aborts sysbench (see notes)."
    echo "Innodb_deadlocks is the server's counter over the whole load run (it includes deadlocks"
    echo "among sysbench's own threads)."
  fi
} >"$RESULTS/alter_mysql.md"

echo
cat "$RESULTS/alter_mysql.md"
echo
echo "written to bench/results/alter_mysql.md; full tool output in bench/results/*.log"
