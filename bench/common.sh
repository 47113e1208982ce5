# Shared by bench/run.sh and bench/field.sh (sourced): the machine report, STREAM,
# and timing helpers. Expects ROOT, OUT, PY, REPS, BIN, BIN_ORIG set by the caller.

machine_report() {
  CC=${CC:-gcc}
  STREAM_FLAGS="-O3 -march=native"
  $CC $STREAM_FLAGS -o "$OUT/stream" "$ROOT/bench/stream.c"
  "$OUT/stream" 80 10 > "$OUT/stream_dram.txt"
  "$OUT/stream" 8 10 > "$OUT/stream_l3.txt"
  "$OUT/stream" 0.25 10 > "$OUT/stream_l2.txt"
  triad() { awk '/^stream_triad_GBs/ {print $3}' "$1"; }
  BW_DRAM=$(triad "$OUT/stream_dram.txt")
  BW_L3=$(triad "$OUT/stream_l3.txt")
  BW_L2=$(triad "$OUT/stream_l2.txt")

  echo "== machine"
  echo "cpu:      $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc --all) cores" \
    "(L2 $(lscpu | sed -n 's/^L2 cache:[[:space:]]*//p'), L3 $(lscpu | sed -n 's/^L3 cache:[[:space:]]*//p'))"
  echo "memory:   $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "compiler: $($CC --version | head -1)"
  if [ -f "$ROOT/build/CMakeFiles/bbd.dir/flags.make" ]; then
    echo "bbd-net:  built with $(sed -n 's/^C_FLAGS = //p' "$ROOT/build/CMakeFiles/bbd.dir/flags.make")"
  fi
}

# ---------------------------------------------------------------- helpers
logev() { # logev FILE EVENT FIELD: a -log_view column (2 = count, 4 = max time)
  if [ -f "$1" ]; then awk -v e="$2" -v f="$3" '$1 == e {print $f; exit}' "$1"; fi
}
internal() { # bbd-net's own clock: the "wall" column of its progress table, last row - first row
  awk '/ wall$/ {h = 1; next}
       h && $(NF - 1) ~ /%$/ && $NF ~ /s$/ {v = $NF; sub(/s$/, "", v); if (n++ == 0) f = v; l = v}
       END {if (n > 1) printf "%.6g\n", l - f}' "$1"
}
timed() { # one run of a command (output to $LOG; -log_view to $LV if set):
  # "wall cpu internal TSStep TSFunctionEval-time TSFunctionEval-count", "-" where absent
  local TIMEFORMAT='%R %U %S' tt it ts fe nf
  [ -z "${LV:-}" ] || rm -f "$LV"
  { time "$@" > "$LOG" 2>&1; } 2> "$LOG.time" ||
    { echo "FAILED: $* (see $LOG)" >&2; grep -m3 "ERROR: [a-z-]" "$LOG" >&2; return 1; }
  tt=$(tail -1 "$LOG.time")
  it=$(internal "$LOG")
  ts=$(logev "${LV:-}" TSStep 4)
  fe=$(logev "${LV:-}" TSFunctionEval 4)
  nf=$(logev "${LV:-}" TSFunctionEval 2)
  awk -v t="$tt" -v r="${it:--} ${ts:--} ${fe:--} ${nf:--}" 'BEGIN {split(t, a, " "); printf "%.4f %.4f %s\n", a[1], a[2] + a[3], r}'
}
best_of() { # the best of $REPS runs, each figure minimised separately (the count: the last)
  local best="" t
  for _ in $(seq "$REPS"); do
    t=$(timed "$@") || return 1
    best=$(awk -v b="$best" -v t="$t" 'BEGIN {
      n = split(t, c, " "); if (b == "") {print t; exit}
      split(b, d, " "); o = ""
      for (i = 1; i <= n; i++) {
        v = d[i]
        if (i == n || (c[i] != "-" && (d[i] == "-" || c[i] + 0 < d[i] + 0))) v = c[i]
        o = o (i > 1 ? " " : "") v
      }
      print o}')
  done
  echo "$best"
}
kv() { awk -v k="$2" '$1 == k {print $3; exit}' "$1"; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# scale_a2 FILE: the forward map is stable only if s = h max(a_2) max(sigma') / dy^2 <= 1/2
# (docs/theory.md section 14, "Stability"). Should the built-in fields break that (their a_2 does not scale
# with N), scale a_2 down to s = 0.48 in the initial state the codes start from, and say so.
scale_a2() {
  "$PY" - "$1" << 'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    a = f["state/a"]
    M, N = a.shape[1:]
    x = a[...]
    s = float(f.attrs["h"]) * max(x[2].max(), 0.0) * N * N if x.shape[0] > 2 else 0.0
    if s > 0.5:
        x[2] *= 0.48 / s
        a[...] = x
        print(f"note: the built-in a_2 gives the forward-map stability number {s:.3g} > 1/2 at M = {M},"
              f" N = {N}: a_2 scaled by {0.48 / s:.4g} (stability number 0.48) in {sys.argv[1]}")
    else:
        print(f"forward-map stability number h max(a_2) / dy^2 = {s:.3g}")
PYEOF
}
