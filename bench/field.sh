#!/bin/bash
# bbd-field benchmark (issue 3): the field solver against bbd-net and the NumPy baseline on the
# same lattice trajectory, side by side in one run. A benchmark, not a test: it prints figures and
# exits non-zero only if a run fails or the codes disagree. Method and results: docs/performance.md.
#
# Sections (default: all three):
#   trajectory  for each size in TRAJ_SIZES: the same gradient-flow trajectory (classic RK4, fixed
#               dt, t in [0, 1]) from one initial state with bbd-net, bbd-field (lattice mode, sweep
#               formulation) on 1 and 2 ranks (width split, and depth split: -da_processors_x 2),
#               and bench/numpy_bbd.py. Time per unit of training time, time per right-hand side
#               (bbd-field's exact sweep against one forward + backward pass of bbd-net: the
#               issue's target is at most 3x), 2-rank speed-ups, and the agreement of the final
#               states.
#   residual    residual (IFunction) evaluations per second of the implicit formulation and the
#               bytes they must move, against single-core STREAM (target: at least half): inside
#               the solver (-log_view wall time; a process waiting for a core on a loaded machine
#               counts against it), and with bbd-residual-bench (bench/residual_bench.c: thread CPU
#               time per evaluation, caches flushed before each so that U, U', F come from memory
#               as in the solver; best of 10 blocks of 10), which a shared machine distorts less.
#   krylov      Krylov iterations per Newton step of the implicit residual formulation with the
#               sweep preconditioner (beuler, fixed dt) for the grids in KRYLOV_SIZES, two ways:
#               (a) M = N from the stable state (a_2 scaled down like 1/N beyond N = 64, so the
#               problem changes with the grid and its stencil rates grow like N), and (b) one fixed
#               problem, the built-in fields unscaled, depth refined like the square of width where
#               the forward map needs it (M = max(N, N^2/64)), lattice mode and continuum mode
#               ((M+1) x N grid, residual form) side by side.
#
# Usage: bash bench/field.sh [trajectory|residual|krylov ...]
# Environment: BBD_NET, BBD_FIELD, BBD_RESIDUAL_BENCH (default build/bin/...; without the last the
# residual section gives the solver's figure only), FLUSH_MB (cache flush of bbd-residual-bench, MB,
# default 64: more than the L3), BENCH_DIR (default build/bench),
# BENCH_REPS (runs per measurement, best taken; default 3), TRAJ_SIZES (default "64 256"),
# KRYLOV_SIZES (default "32 64 128 256 512"), RESIDUAL_SIZES (default "64 256 512"), FIELD_DT
# (default 0.01), KRYLOV_DT (default 0.01), KRYLOV_OPTS (extra options of the krylov runs, e.g.
# "-bbd_jacobian assembled"), NUMPY (0 skips the NumPy baseline), PYTHON (default /usr/bin/python3).
set -euo pipefail
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NET_ORIG=${BBD_NET:-$ROOT/build/bin/bbd-net}
FIELD_ORIG=${BBD_FIELD:-$ROOT/build/bin/bbd-field}
RBENCH_ORIG=${BBD_RESIDUAL_BENCH:-$ROOT/build/bin/bbd-residual-bench}
FLUSH_MB=${FLUSH_MB:-64}
OUT=${BENCH_DIR:-$ROOT/build/bench}
PY=${PYTHON:-/usr/bin/python3}
REPS=${BENCH_REPS:-3}
FIELD_DT=${FIELD_DT:-0.01}
KRYLOV_DT=${KRYLOV_DT:-0.01}
read -r -a TRAJ_SIZES <<< "${TRAJ_SIZES:-64 256}"
read -r -a KRYLOV_SIZES <<< "${KRYLOV_SIZES:-32 64 128 256 512}"
read -r -a RESIDUAL_SIZES <<< "${RESIDUAL_SIZES:-64 256 512}"
read -r -a KRYLOV_EXTRA <<< "${KRYLOV_OPTS:-}"
SECTIONS=("$@")
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=(trajectory residual krylov)
for s in "${SECTIONS[@]}"; do
  case $s in trajectory | residual | krylov) ;; *) echo "unknown section $s (trajectory, residual, krylov)"; exit 1 ;; esac
done

mkdir -p "$OUT"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
if [ ! -x "$NET_ORIG" ] || [ ! -x "$FIELD_ORIG" ]; then
  echo "== building the project"
  (cd "$ROOT" && cmake -S . -B build > "$OUT/cmake.log" && cmake --build build -j2 >> "$OUT/cmake.log") ||
    { echo "build failed: see $OUT/cmake.log"; exit 1; }
fi
# private copies: a rebuild during the benchmark must not change the programs under test
cp "$NET_ORIG" "$OUT/bbd-net.fbench"
cp "$FIELD_ORIG" "$OUT/bbd-field.fbench"
NET=$OUT/bbd-net.fbench FIELD=$OUT/bbd-field.fbench RBENCH=""
if [ -x "$RBENCH_ORIG" ]; then cp "$RBENCH_ORIG" "$OUT/bbd-residual-bench.fbench" && RBENCH=$OUT/bbd-residual-bench.fbench; fi
BIN=$NET BIN_ORIG=$NET_ORIG
"$PY" -c "import numpy, h5py" || { echo "$PY lacks numpy or h5py (Debian: python3-numpy python3-h5py)"; exit 1; }
machine_report
echo "bbd-field: $FIELD_ORIG, md5 $(md5sum < "$FIELD" | cut -c1-8)"

DEF=(-bbd_family field -bbd_activation tanh -bbd_loss mse -bbd_dynamics flow -bbd_eta 1 -bbd_kappa 1,0.1,0)
init_state() { # init_state N FILE: the built-in fields at M = N (a_2 scaled when unstable)
  LOG="$OUT/init-$1.log" LV=""
  timed "$NET" "${DEF[@]}" -bbd_depth "$1" -bbd_width "$1" -bbd_tfinal 0 -bbd_output "$2" > /dev/null
  scale_a2 "$2"
}
reldiff() { # reldiff A.h5 B.h5: relative 2-norm difference of /state/a and /state/b
  "$PY" - "$1" "$2" << 'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as g:
    x = np.concatenate([f["state/a"][()].ravel(), f["state/b"][()].ravel()])
    y = np.concatenate([g["state/a"][()].ravel(), g["state/b"][()].ravel()])
print("%.3g" % (np.linalg.norm(x - y) / np.linalg.norm(y)))
PYEOF
}
FAIL=0

# ---------------------------------------------------------------- trajectory
TROWS=()
trajectory() {
  local n=$1 init="$OUT/f$1-init.h5" opts t_net t_f1 t_f2 t_f2x np=- rd rdh rd2 rd2x rdn=-
  echo "== trajectory, M = N = $n"
  init_state "$n" "$init"
  opts=(-bbd_init "$init" -bbd_tfinal 1 -bbd_output_dt 1 -ts_type rk -ts_rk_type 4 -ts_adapt_type none -ts_dt "$FIELD_DT")
  LOG="$OUT/f$n-net.log" LV="$OUT/f$n-net-logview.txt"
  t_net=$(best_of "$NET" "${opts[@]}" -bbd_output "$OUT/f$n-net.h5" -log_view ":$LV")
  LOG="$OUT/f$n-field1.log" LV="$OUT/f$n-field1-logview.txt"
  t_f1=$(best_of "$FIELD" "${opts[@]}" -bbd_output "$OUT/f$n-field1.h5" -log_view ":$LV")
  LOG="$OUT/f$n-field2.log" LV="$OUT/f$n-field2-logview.txt"
  t_f2=$(best_of mpiexec --oversubscribe -n 2 "$FIELD" "${opts[@]}" -bbd_output "$OUT/f$n-field2.h5" -log_view ":$LV")
  # the same 2 ranks with depth split (-da_processors_x 2): the sweeps run on the width-only layout,
  # each right-hand side moves U and F between the layouts (docs/theory.md section 14, "Decomposition")
  LOG="$OUT/f$n-field2x.log" LV="$OUT/f$n-field2x-logview.txt"
  t_f2x=$(best_of mpiexec --oversubscribe -n 2 "$FIELD" "${opts[@]}" -da_processors_x 2 -da_processors_y 1 -bbd_output "$OUT/f$n-field2x.h5" -log_view ":$LV")
  rd=$(reldiff "$OUT/f$n-field1.h5" "$OUT/f$n-net.h5")
  # the same at dt/2 (untimed): the difference of the two codes must shrink like dt^4
  local half=(-bbd_init "$init" -bbd_tfinal 1 -bbd_output_dt 1 -ts_type rk -ts_rk_type 4 -ts_adapt_type none
    -ts_dt "$(calc %.10g "$FIELD_DT / 2")" -bbd_quiet)
  "$NET" "${half[@]}" -bbd_output "$OUT/f$n-net-half.h5" && "$FIELD" "${half[@]}" -bbd_output "$OUT/f$n-field-half.h5" ||
    { echo "the dt/2 runs failed"; return 1; }
  rdh=$(reldiff "$OUT/f$n-field-half.h5" "$OUT/f$n-net-half.h5")
  rd2=$(reldiff "$OUT/f$n-field2.h5" "$OUT/f$n-field1.h5")
  rd2x=$(reldiff "$OUT/f$n-field2x.h5" "$OUT/f$n-field1.h5")
  if [ "${NUMPY:-1}" != 0 ]; then
    LOG="$OUT/f$n-numpy.log"
    "$PY" "$ROOT/bench/numpy_bbd.py" "$init" --dynamics flow --tfinal 1 --dt "$FIELD_DT" --batch 1 \
      --repeat "$([ "$n" -le 64 ] && echo 3 || echo 1)" --output "$OUT/f$n-numpy.h5" --compare "$OUT/f$n-net.h5" > "$LOG" 2>&1 ||
      { echo "numpy_bbd.py failed (see $LOG)"; return 1; }
    np=$(kv "$LOG" time_total)
    rdn=$(kv "$LOG" reldiff_state)
  fi
  local wn sn fn cn w1 s1 f1 c1 w2 s2 f2 c2 s2x pn p1 p2
  read -r wn _ _ sn fn cn <<< "$t_net"
  read -r w1 _ _ s1 f1 c1 <<< "$t_f1"
  read -r w2 _ _ s2 f2 c2 <<< "$t_f2"
  read -r _ _ _ s2x _ _ <<< "$t_f2x"
  pn=$(calc %.6g "$fn / $cn") p1=$(calc %.6g "$f1 / $c1") p2=$(calc %.6g "$f2 / $c2")
  echo "bbd-net:      TSStep $sn s, $cn right-hand sides of $(calc %.4g "$pn * 1e6") us (forward + backward + velocity)"
  echo "bbd-field 1:  TSStep $s1 s, $c1 right-hand sides of $(calc %.4g "$p1 * 1e6") us (exact sweep): $(calc %.2f "$p1 / $pn") x bbd-net's pass (target <= 3)"
  echo "bbd-field 2:  TSStep $s2 s (max over ranks), $(calc %.4g "$p2 * 1e6") us per right-hand side: speed-up $(calc %.2f "$s1 / $s2") on 2 ranks"
  echo "bbd-field 2x: TSStep $s2x s with depth split (-da_processors_x 2): speed-up $(calc %.2f "$s1 / $s2x"), $(calc %.2f "$s2x / $s2") x the width split"
  echo "numpy:        $np s; final states: field/net $rd, field 2 ranks/1 rank $rd2 (depth split $rd2x), numpy/net $rdn"
  # bbd-net integrates (a, b), bbd-field (z, a): Runge-Kutta methods are not invariant under the
  # nonlinear change of variables b <-> z, so the two discrete trajectories differ by O(dt^4):
  # the difference must fall by at least 8 (16 expected) when dt is halved, or be at rounding
  # level. The NumPy code integrates (a, b) like bbd-net: 1e-10. Ranks: the same sweep: 1e-12.
  local ok=yes
  awk -v a="$rd" -v b="$rdh" 'BEGIN {exit !(a + 0 <= 1e-12 || b + 0 <= a / 8)}' || ok=NO
  for r in "$rdn 1e-10" "$rd2 1e-12" "$rd2x 1e-12"; do
    set -- $r
    [ "$1" = - ] || awk -v r="$1" -v t="$2" 'BEGIN {exit !(r + 0 <= t + 0)}' || ok=NO
  done
  echo "field/net difference at dt = $FIELD_DT: $rd, at dt/2: $rdh (ratio $(calc %.1f "$rd / ($rdh + 1e-300)"), 16 for fourth order)"
  [ $ok = yes ] || FAIL=1
  TROWS+=("$(printf '%5s %9.4g %9.4g %9.4g %9s %8.2f %8.2f %8.2f %7s %8s %9s %4s' "$n" "$sn" "$s1" "$s2" "$np" \
    "$(calc %.4g "$p1 / $pn")" "$(calc %.4g "$s1 / $s2")" "$(calc %.4g "$s1 / $s2x")" "$([ "$np" = - ] && echo - || calc %.1f "$np / $s1")" "$rd" "$rd2" $ok)")
}

# ---------------------------------------------------------------- residual and krylov
RROWS=() KROWS=() KFROWS=()
implicit_run() { # implicit_run N NSTEPS TAG: the residual formulation, beuler, fixed dt, from the stable state
  local n=$1 init="$OUT/f$1-init.h5"
  [ -f "$init" ] || init_state "$n" "$init" > /dev/null
  LOG="$OUT/f$n-$3.log" LV="$OUT/f$n-$3-logview.txt"
  best_of "$FIELD" -bbd_init "$init" -bbd_formulation residual -ts_type beuler -ts_adapt_type none -ts_dt "$KRYLOV_DT" \
    -bbd_tfinal "$(calc %.10g "$2 * $KRYLOV_DT")" -bbd_output_dt "$(calc %.10g "$2 * $KRYLOV_DT")" \
    -bbd_output "$OUT/f$n-$3.h5" -log_view ":$LV" "${KRYLOV_EXTRA[@]}"
}
residual() {
  local n=$1 t fe nfe per bytes bw cpu="-" bwc="-" rc="-"
  echo "== residual evaluations, M = N = $n"
  t=$(implicit_run "$n" 3 residual)
  read -r _ _ _ _ fe nfe <<< "$t"
  per=$(calc %.6g "$fe / $nfe")
  # minimal traffic of one evaluation F(U, U'): read U and U', write F, (P + 2) = 4 doubles each
  # per grid point: 12 (M + 1) x N arrays
  bytes=$((12 * (n + 1) * n * 8))
  bw=$(calc %.3f "$bytes / $per / 1e9")
  echo "$nfe evaluations, $(calc %.4g "$per * 1e6") us each ($(calc %.4g "1 / $per") per second); $bytes bytes minimal: $bw GB/s =" \
    "$(calc %.2f "$bw / $BW_DRAM") of STREAM (DRAM), $(calc %.2f "$bw / $BW_L3") of L3, $(calc %.2f "$bw / $BW_L2") of L2"
  if [ -n "$RBENCH" ]; then # the same evaluation alone, data from memory, thread CPU time
    "$RBENCH" -bbd_init "$OUT/f$n-init.h5" -bbd_formulation residual -bench_flush "$FLUSH_MB" -bench_reps 10 > "$OUT/f$n-rbench.log" 2>&1 ||
      { echo "bbd-residual-bench failed (see $OUT/f$n-rbench.log)"; return 1; }
    cpu=$(sed -n 's/.*cpu best \([0-9.]*\) us.*/\1/p' "$OUT/f$n-rbench.log")
    bwc=$(calc %.3f "$bytes / ($cpu * 1e-6) / 1e9")
    rc=$(calc %.2f "$bwc / $BW_DRAM")
    echo "bbd-residual-bench (caches flushed, CPU time): $cpu us, $bwc GB/s = $rc of STREAM (DRAM)"
  fi
  RROWS+=("$(printf '%5s %8s %10.4g %10.4g %7s %9.2f %7.2f %7.2f %9s %7s %9s' "$n" "$nfe" "$(calc %.6g "$per * 1e6")" "$(calc %.6g "1 / $per")" "$bw" \
    "$(calc %.4g "$bw / $BW_DRAM")" "$(calc %.4g "$bw / $BW_L3")" "$(calc %.4g "$bw / $BW_L2")" "$cpu" "$bwc" "$rc")")
}
krylov() {
  local n=$1 line steps newton kry
  echo "== Krylov iterations, M = N = $n"
  implicit_run "$n" 5 krylov > /dev/null
  line=$(grep -m1 "^solver:" "$OUT/f$n-krylov.log") || { echo "no solver line in $OUT/f$n-krylov.log"; return 1; }
  echo "$line"
  read -r steps newton kry <<< "$(echo "$line" | awk '{print $2, $8, $11}')"
  KROWS+=("$(printf '%5s %6s %7s %7s %9.2f %9.2f' "$n" "$steps" "$newton" "$kry" "$(calc %.4g "$newton / $steps")" "$(calc %.4g "$kry / $newton")")")
}
kpn() { # kpn LOG: Krylov iterations per Newton step from a run's "solver:" line
  grep -m1 "^solver:" "$1" | sed 's/.*(\([0-9.]*\) Krylov per Newton).*/\1/'
}
krylov_fixed() { # the same problem at every grid: lattice (M x N) and continuum ((M+1) x N)
  local n=$1 m t lat con
  m=$((n * n / 64 > n ? n * n / 64 : n))
  t=$(calc %.10g "3 * $KRYLOV_DT")
  echo "== Krylov iterations, fixed problem, N = $n, M = $m"
  local step=(-bbd_formulation residual -ts_type beuler -ts_adapt_type none -ts_dt "$KRYLOV_DT" -bbd_tfinal "$t" -bbd_output_dt "$t")
  LOG="$OUT/kf$n-lattice.log" LV=""
  timed "$FIELD" -bbd_depth "$m" -bbd_width "$n" "${step[@]}" -bbd_output "$OUT/kf$n-lattice.h5" > /dev/null || return 1
  lat=$(kpn "$LOG")
  LOG="$OUT/kf$n-continuum.log"
  timed "$FIELD" -bbd_mode continuum -da_grid_x $((m + 1)) -da_grid_y "$n" "${step[@]}" -bbd_output "$OUT/kf$n-continuum.h5" > /dev/null || return 1
  con=$(kpn "$LOG")
  KFROWS+=("$(printf '%5s %6s %12s %12s' "$n" "$m" "$lat" "$con")")
}

for s in "${SECTIONS[@]}"; do
  case $s in
    trajectory) for n in "${TRAJ_SIZES[@]}"; do trajectory "$n" || { FAIL=1; TROWS+=("$(printf '%5s FAILED' "$n")"); }; done ;;
    residual) for n in "${RESIDUAL_SIZES[@]}"; do residual "$n" || { FAIL=1; RROWS+=("$(printf '%5s FAILED' "$n")"); }; done ;;
    krylov)
      for n in "${KRYLOV_SIZES[@]}"; do krylov "$n" || { FAIL=1; KROWS+=("$(printf '%5s FAILED' "$n")"); }; done
      for n in "${KRYLOV_SIZES[@]}"; do krylov_fixed "$n" || { FAIL=1; KFROWS+=("$(printf '%5s FAILED' "$n")"); }; done ;;
  esac
done

echo
if [ ${#TROWS[@]} -gt 0 ]; then
  echo "== trajectory: t in [0, 1] (time per unit of training time, s), RK4 dt = $FIELD_DT"
  printf '%5s %9s %9s %9s %9s %8s %8s %8s %7s %8s %9s %4s\n' N bbd-net field-1 field-2 numpy "rhs/pass" "2-rank" "2x1" "np/fld" "fld/net" "2r/1r" ok
  for r in "${TROWS[@]}"; do echo "$r"; done
  echo "rhs/pass: bbd-field's right-hand side (exact sweep) / bbd-net's forward + backward pass (target <= 3);"
  echo "2-rank: speed-up of bbd-field on 2 ranks (width split); 2x1: the same with depth split (-da_processors_x 2);"
  echo "np/fld: NumPy / bbd-field; fld/net, 2r/1r: relative differences of the final states"
  echo "(fld/net is RK4's O(dt^4) difference between integrating (z, a) and (a, b): it must fall 8-16x when dt is halved)"
fi
if [ ${#RROWS[@]} -gt 0 ]; then
  echo "== residual evaluations (implicit formulation; minimal traffic: U, U' read, F written)"
  printf '%5s %8s %10s %10s %7s %9s %7s %7s %9s %7s %9s\n' N evals "us/eval" "evals/s" "GB/s" "/DRAM" "/L3" "/L2" "cpu-us" "GB/s" "/DRAM"
  for r in "${RROWS[@]}"; do echo "$r"; done
  echo "STREAM triad (1 core): DRAM $BW_DRAM, L3 $BW_L3, L2 $BW_L2 GB/s (target: /DRAM >= 0.5)"
  echo "(first columns: inside the solver, wall time; last three: bbd-residual-bench, caches flushed, thread CPU time)"
fi
if [ ${#KROWS[@]} -gt 0 ]; then
  echo "== Krylov iterations per Newton step (residual formulation, sweep preconditioner, beuler, dt = $KRYLOV_DT${KRYLOV_OPTS:+, $KRYLOV_OPTS})"
  printf '%5s %6s %7s %7s %9s %9s\n' N steps Newton Krylov "N/step" "K/Newton"
  for r in "${KROWS[@]}"; do echo "$r"; done
  echo "(M = N; beyond N = 64 a_2 is scaled like 1/N for stability, so the stencil rates, and the problem, change with N)"
fi
if [ ${#KFROWS[@]} -gt 0 ]; then
  echo "== Krylov iterations per Newton step, one fixed problem (built-in fields, M = max(N, N^2/64), beuler, dt = $KRYLOV_DT)"
  printf '%5s %6s %12s %12s\n' N M lattice continuum
  for r in "${KFROWS[@]}"; do echo "$r"; done
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ $FAIL = 0 ] || { echo "a run FAILED or the codes DISAGREE"; exit 1; }
