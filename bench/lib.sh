# Helpers shared by bench/alter_mysql.sh and bench/alter_postgres.sh; sourced, never run.

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
target() { awk -v v="$1" -v lim="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else if (v + 0 <= lim + 0) print "met"; else print "MISSED" }'; }
status() { [[ "${1:-0}" == 0 ]] && echo "" || echo " (FAILED, exit $1)"; }

declare -A SECONDS_OF STATUS_OF
run_timed() {  # run_timed NAME LOGFILE COMMAND...: wall-clock seconds into SECONDS_OF[NAME]
  local name=$1 logfile=$2 start end rc=0
  shift 2
  log "$name: $*"
  start=$(now)
  "$@" >"$logfile" 2>&1 || rc=$?
  end=$(now)
  SECONDS_OF[$name]=$(elapsed "$start" "$end")
  STATUS_OF[$name]=$rc
  if [[ $rc -ne 0 ]]; then
    log "$name FAILED (exit $rc) after ${SECONDS_OF[$name]} s; last lines of $logfile:"
    tail -n 15 "$logfile" >&2
  else
    log "$name: ${SECONDS_OF[$name]} s"
  fi
}

# idle_table TOOL=LABEL...: the idle runs as a Markdown table, a row per tool and a column per
# size of $SIZES, each cell "seconds (× the tool `alter`, the server's blocking ALTER)".
idle_table() {
  local header="| tool |" rule="|---|" spec tool line rows key
  for rows in $SIZES; do header+=" $rows rows |"; rule+="---:|"; done
  echo "$header"
  echo "$rule"
  for spec in "$@"; do
    tool=${spec%%=*}
    line="| ${spec#*=} |"
    for rows in $SIZES; do
      key="$tool@$rows"
      line+=" ${SECONDS_OF[$key]:-n/a} ($(ratio "${SECONDS_OF[$key]:-}" "${SECONDS_OF[alter@$rows]:-}"))$(status "${STATUS_OF[$key]:-0}") |"
    done
    echo "$line"
  done
}

# max_latency SYSBENCH_LOG FROM TO: the highest of sysbench's per-second worst latencies (it runs
# with --percentile=100, so "lat (ms,100%)" is each second's maximum) over the seconds after FROM
# up to TO, in ms; n/a when there are none.
max_latency() {
  awk -v a="$2" -v b="$3" '
    /^\[ *[0-9]+s \]/ { s = $2; sub(/s/, "", s); if (s + 0 > a && s + 0 <= b) {
      for (i = 1; i <= NF; i++) if ($i == "(ms,100%):") { v = $(i + 1) + 0; if (max == "" || v > max) max = v } } }
    END { print (max == "" ? "n/a" : max) }' "$1"
}
