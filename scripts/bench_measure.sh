# Sourced by scripts/bench_obs.sh and scripts/bench_subset.sh: one way to
# time commands. Needs RUNS (runs per command) and MEASURE_LOG (where the
# commands' stderr goes); MEASURE_RESET, when set, is run before each run
# (e.g. to empty an output folder). Peak RSS and CPU need /usr/bin/time.
have_time=1; [ -x /usr/bin/time ] || { have_time=0; echo "bench: /usr/bin/time not installed, no peak RSS" >&2; }

# measure_rounds CMD... -> MEDS SPREADS (wall seconds) RSSS (KB) CPUS
# (median user+sys seconds), an entry per CMD in its order. RUNS rounds,
# each running every CMD once in turn: a machine that slows down or speeds
# up meanwhile weighs on every CMD alike, so their ratios hold.
measure_rounds() {
  local cmds=("$@") ts=() rs=() cs=() tf t0 t1 i
  tf=$(mktemp)
  for _ in $(seq "$RUNS"); do
    for i in "${!cmds[@]}"; do
      [ -n "${MEASURE_RESET:-}" ] && bash -c "$MEASURE_RESET"
      t0=$(date +%s%N)
      if [ "$have_time" = 1 ]; then
        /usr/bin/time -f "%M %U %S" -o "$tf" bash -c "${cmds[$i]}" >/dev/null 2>>"$MEASURE_LOG"
        rs[i]+=" $(tail -n1 "$tf" | cut -d' ' -f1)"
        cs[i]+=" $(tail -n1 "$tf" | awk '{printf "%.2f", $2 + $3}')"
      else
        bash -c "${cmds[$i]}" >/dev/null 2>>"$MEASURE_LOG"
      fi
      t1=$(date +%s%N)
      ts[i]+=" $(( (t1 - t0) / 1000000 ))"
    done
  done
  rm -f "$tf"
  MEDS=(); SPREADS=(); RSSS=(); CPUS=()
  for i in "${!cmds[@]}"; do
    # shellcheck disable=SC2086 # the lists are words
    summarise "${ts[i]}" "${rs[i]:-}" "${cs[i]:-}"
    MEDS[i]=$med; SPREADS[i]=$spread; RSSS[i]=$rss; CPUS[i]=$cpu
  done
}

# summarise "MS..." "KB..." "S..." -> $med $spread $rss $cpu
summarise() {
  local sorted
  sorted=$(printf '%s\n' $1 | sort -n)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}')
  spread=$(echo "$sorted" | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f", (hi-lo)/1000}')
  rss=""; [ -n "$2" ] && rss=$(printf '%s\n' $2 | sort -n | tail -n1)
  cpu="n/a"; [ -n "$3" ] && cpu=$(printf '%s\n' $3 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  return 0
}

# measure CMD -> $med $spread (wall seconds) $rss (KB) $cpu (median user+sys seconds)
measure() {
  measure_rounds "$1"
  med=${MEDS[0]}; spread=${SPREADS[0]}; rss=${RSSS[0]}; cpu=${CPUS[0]}
}
# KB -> "N MB", or n/a
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN {printf "%.0f MB", k/1024}' || echo "n/a"; }
