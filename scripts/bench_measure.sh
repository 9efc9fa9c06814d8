# Sourced by scripts/bench_obs.sh and scripts/bench_subset.sh: one way to
# time a command. Needs RUNS (runs per command) and MEASURE_LOG (where the
# commands' stderr goes); MEASURE_RESET, when set, is run before each run
# (e.g. to empty an output folder). Peak RSS and CPU need /usr/bin/time.
have_time=1; [ -x /usr/bin/time ] || { have_time=0; echo "bench: /usr/bin/time not installed, no peak RSS" >&2; }
# measure CMD -> $med $spread (wall seconds) $rss (KB) $cpu (median user+sys seconds)
measure() {
  local cmd=$1 t0 t1 ts=() rs=() cs=() tf
  tf=$(mktemp)
  for _ in $(seq "$RUNS"); do
    [ -n "${MEASURE_RESET:-}" ] && bash -c "$MEASURE_RESET"
    t0=$(date +%s%N)
    if [ "$have_time" = 1 ]; then
      /usr/bin/time -f "%M %U %S" -o "$tf" bash -c "$cmd" >/dev/null 2>>"$MEASURE_LOG"
      rs+=("$(tail -n1 "$tf" | cut -d' ' -f1)")
      cs+=("$(tail -n1 "$tf" | awk '{printf "%.2f", $2 + $3}')")
    else
      bash -c "$cmd" >/dev/null 2>>"$MEASURE_LOG"
    fi
    t1=$(date +%s%N)
    ts+=("$(( (t1 - t0) / 1000000 ))")
  done
  rm -f "$tf"
  local sorted
  sorted=$(printf '%s\n' "${ts[@]}" | sort -n)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}')
  spread=$(echo "$sorted" | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f", (hi-lo)/1000}')
  rss=""; [ "${#rs[@]}" -gt 0 ] && rss=$(printf '%s\n' "${rs[@]}" | sort -n | tail -n1)
  cpu="n/a"; [ "${#cs[@]}" -gt 0 ] && cpu=$(printf '%s\n' "${cs[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  return 0
}
# KB -> "N MB", or n/a
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN {printf "%.0f MB", k/1024}' || echo "n/a"; }
