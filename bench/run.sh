#!/bin/bash
# bbd-net against a plain NumPy implementation of the same training dynamics
# (bench/numpy_bbd.py), side by side on the same initial state and trajectory.
# Prints a table of times and ratios (numpy / bbd-net), checks that the two
# final states agree, and reports the effective memory bandwidth of bbd-net's
# gradient evaluation (field family) as a fraction of single-core STREAM
# (bench/stream.c). A benchmark, not a test: it prints figures. It exits non-zero
# only if a case fails or the two codes disagree. Method: docs/performance.md.
#
# Usage: bash bench/run.sh [case ...]     cases: field64 field256 dense (default: all)
# Environment: BBD_NET (default build/bin/bbd-net), BENCH_DIR (work files,
# default build/bench), BENCH_REPS (bbd-net runs per measurement, best taken;
# default 5), NUMPY_REPS (default 1 at M = N = 256, 3 otherwise), PYTHON (default
# /usr/bin/python3), FIELD_DT (RK4 step of the field cases; default 0.01),
# FIELD_KAPPA (default 1,0.1,0), BENCH_BLAS_DIR (a directory holding another
# libblas.so.3, e.g. OpenBLAS unpacked from Debian's libopenblas0-pthread: both codes
# then load it through LD_LIBRARY_PATH; single-threaded either way).
set -euo pipefail
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 # single core, like the rest of the benchmark
if [ -n "${BENCH_BLAS_DIR:-}" ]; then
  [ -e "$BENCH_BLAS_DIR/libblas.so.3" ] || { echo "no libblas.so.3 in BENCH_BLAS_DIR=$BENCH_BLAS_DIR"; exit 1; }
  export LD_LIBRARY_PATH=$BENCH_BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BBD_NET:-$ROOT/build/bin/bbd-net}
OUT=${BENCH_DIR:-$ROOT/build/bench}
PY=${PYTHON:-/usr/bin/python3}
REPS=${BENCH_REPS:-5}
FIELD_DT=${FIELD_DT:-0.01}
FIELD_KAPPA=${FIELD_KAPPA:-1,0.1,0}
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(field64 field256 dense)

mkdir -p "$OUT"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
if [ ! -x "$BIN" ]; then
  echo "== building the project ($BIN missing)"
  (cd "$ROOT" && cmake -S . -B build > "$OUT/cmake.log" && cmake --build build -j2 >> "$OUT/cmake.log") ||
    { echo "build failed: see $OUT/cmake.log"; exit 1; }
fi
[ -x "$BIN" ] || { echo "no executable $BIN"; exit 1; }
# run a private copy: a rebuild during the benchmark must not change the program under test
cp "$BIN" "$OUT/bbd-net.bench"
BIN_ORIG=$BIN BIN=$OUT/bbd-net.bench
"$PY" -c "import numpy, h5py" || { echo "$PY lacks numpy or h5py (Debian: python3-numpy python3-h5py)"; exit 1; }

# ---------------------------------------------------------------- machine and STREAM
machine_report
echo "bbd-net:  $BIN_ORIG, $(date -u -r "$BIN_ORIG" '+built %F %T UTC'), md5 $(md5sum < "$BIN" | cut -c1-8)"
echo "petsc:    $(pkg-config --modversion PETSc 2> /dev/null || echo '?')"
echo "numpy:    $("$PY" -c 'import numpy, sys; print(numpy.__version__, "python", sys.version.split()[0])')," \
  "BLAS (numpy and PETSc): $(readlink -f "${BENCH_BLAS_DIR:-/usr/lib/x86_64-linux-gnu}/libblas.so.3" 2> /dev/null || echo '?')"
echo "STREAM triad, 1 core: DRAM (3 x 80 MB) $BW_DRAM GB/s, L3 (3 x 8 MB) $BW_L3 GB/s," \
  "L2 (3 x 0.25 MB) $BW_L2 GB/s  [$CC $STREAM_FLAGS]"
LOAD=$(cut -d' ' -f1 /proc/loadavg)
echo "load average at the start: $LOAD"
if awk -v l="$LOAD" 'BEGIN {exit !(l > 0.5)}'; then
  echo "WARNING: other processes share the cores: wall times will be disturbed (CPU times less so)"
fi


ROWS=()
AGREE_ALL=1
run_case() {
  local name=$1 tfinal dt init_opts run_opts np_opts bytes="" bytes_impl="" narr_impl="" flops=""
  case $name in
    field64 | field256)
      local n=${name#field} nk
      init_opts=(-bbd_family field -bbd_depth "$n" -bbd_width "$n" -bbd_activation tanh -bbd_loss mse
        -bbd_dynamics flow -bbd_eta 1 -bbd_kappa "$FIELD_KAPPA")
      tfinal=1 dt=$FIELD_DT
      np_opts=(--batch 1 --repeat "${NUMPY_REPS:-$([ "$n" = 64 ] && echo 3 || echo 1)}")
      # Bytes of one forward + backward pass, counted in M x N arrays of doubles (P = 2).
      # Minimal (what any implementation must move when the state does not fit in cache):
      #   forward reads a_0..a_2, b, writes z; backward reads a_0..a_2, z, writes
      #   da_0..da_2, db: 13 arrays.
      # As implemented in src/propagate.c (BbdFlowVelocityBatch): forward writes sigma,
      #   sigma', z and reads a, b (7); backward reads a, sigma', writes lam (5); the
      #   velocity zeroes its 4 arrays, reads lam, sigma, updates db (read + write) and
      #   da_j for each kappa_j != 0 (read + write): 8 + 2 k. 20 + 2 k arrays in all.
      nk=$(echo "$FIELD_KAPPA" | tr ',' '\n' | awk '$1 + 0 != 0 {c++} END {print c + 0}')
      narr_impl=$((20 + 2 * nk))
      bytes=$((13 * n * n * 8))
      bytes_impl=$((narr_impl * n * n * 8))
      ;;
    dense)
      local batch=100
      init_opts=(-bbd_family dense -bbd_widths "784,256,256,10" -bbd_data fashion-mnist -bbd_nsamples 10000
        -bbd_batch "$batch" -bbd_dynamics sgd -bbd_eta 0.1 -bbd_loss ce -bbd_activation tanh -bbd_output_dt 100)
      tfinal=100 dt=1
      np_opts=(--batch "$batch" --repeat "${NUMPY_REPS:-3}")
      # flops of one SGD step (2 per multiply-add, every sample of the batch): forward W sigma
      # and gradient lam sigma^T over all 268800 weights, backward W^T lam over the layers
      # above the first (lam^(0) is not needed)
      flops=$((2 * batch * (2 * (784 * 256 + 256 * 256 + 256 * 10) + 256 * 256 + 256 * 10)))
      ;;
    *) echo "unknown case $name"; return 1 ;;
  esac
  set_run_opts() {
    if [ -n "$bytes" ]; then
      run_opts=(-bbd_dynamics flow -bbd_tfinal "$tfinal" -bbd_output_dt "$tfinal"
        -ts_type rk -ts_rk_type 4 -ts_adapt_type none -ts_dt "$dt")
      np_dyn=(--dynamics flow --tfinal "$tfinal" --dt "$dt")
    else
      run_opts=(-bbd_dynamics sgd -bbd_batch "$batch" -bbd_tfinal "$tfinal" -bbd_output_dt "$tfinal")
      np_dyn=(--dynamics sgd --tfinal "$tfinal")
    fi
  }
  local np_dyn
  set_run_opts
  local init="$OUT/$name-init.h5" res="$OUT/$name-bbd.h5" npres="$OUT/$name-numpy.h5"
  echo "== $name"
  LOG="$OUT/$name-init.log" LV=""
  timed "$BIN" "${init_opts[@]}" -bbd_tfinal 0 -bbd_output "$init" > /dev/null || return 1
  if [ -n "$bytes" ]; then
    scale_a2 "$init"
  fi
  # bbd-net: the trajectory from the saved initial state, and the same start with tfinal 0
  LOG="$OUT/$name-bbd.log"
  local t_run t_zero
  LV="$OUT/$name-logview.txt"
  while ! t_run=$(best_of "$BIN" -bbd_init "$init" "${run_opts[@]}" -bbd_output "$res" -log_view ":$LV"); do
    # the flow may need a smaller step for stability: halve it (down to FIELD_DT / 16)
    if [ -n "$bytes" ] && grep -q diverged "$LOG" && awk -v d="$dt" -v d0="$FIELD_DT" 'BEGIN {exit !(d > d0 / 10)}'; then
      dt=$(calc %g "$dt / 2")
      echo "bbd-net diverged: retrying with dt = $dt"
      set_run_opts
    else
      return 1
    fi
  done
  LOG="$OUT/$name-zero.log" LV=""
  t_zero=$(best_of "$BIN" -bbd_init "$init" "${run_opts[@]}" -bbd_tfinal 0 -bbd_output "$OUT/$name-zero.h5") || return 1
  local w_run c_run t_int t_step t_fe nfe w_zero c_zero t_bbd t_bbd_cpu method
  read -r w_run c_run t_int t_step t_fe nfe <<< "$t_run"
  read -r w_zero c_zero _ <<< "$t_zero"
  if [ "$t_step" != - ]; then
    t_bbd=$t_step method="TSStep of -log_view"
  elif [ "$t_int" != - ]; then
    t_bbd=$t_int method="bbd-net's own clock (progress table, t = tfinal row - t = 0 row)"
  else
    t_bbd=$(calc %.6g "$w_run - $w_zero") method="wall - wall(tfinal 0)"
  fi
  [ "$t_fe" != - ] || t_fe="" nfe=""
  t_bbd_cpu=$(calc %.6g "$c_run - $c_zero")
  echo "bbd-net: wall $w_run s, wall(tfinal 0) $w_zero s (difference $(calc %.4g "$w_run - $w_zero") s);" \
    "CPU $c_run s, CPU(tfinal 0) $c_zero s (difference $t_bbd_cpu s)"
  echo "         own clock $t_int s, TSStep $t_step s, TSFunctionEval ${nfe:--} x ${t_fe:--} s; timed by $method"
  # NumPy on the same initial state, compared with bbd-net's final state
  LOG="$OUT/$name-numpy.log"
  "$PY" "$ROOT/bench/numpy_bbd.py" "$init" "${np_dyn[@]}" "${np_opts[@]}" --output "$npres" --compare "$res" > "$LOG" 2>&1 ||
    { echo "numpy_bbd.py failed (see $LOG)"; tail -20 "$LOG"; return 1; }
  local t_np t_np_cpu t_np_grad nevals rd rdc
  t_np=$(kv "$LOG" time_total)
  t_np_cpu=$(kv "$LOG" time_total_cpu)
  t_np_grad=$(kv "$LOG" time_per_grad)
  nevals=$(kv "$LOG" grad_evals)
  rd=$(kv "$LOG" reldiff_state)
  rdc=$(kv "$LOG" reldiff_change)
  echo "numpy:   wall $t_np s, CPU $t_np_cpu s for $nevals gradient evaluations ($t_np_grad s per evaluation alone)"
  echo "loss at t = 0: numpy $(kv "$LOG" loss_initial), bbd-net $(kv "$LOG" ref_loss_initial);" \
    "at t = $tfinal: numpy $(kv "$LOG" loss_final), bbd-net $(kv "$LOG" ref_loss_final)"
  local tol agree
  tol=$([ -n "$bytes" ] && echo 1e-10 || echo 1e-8)
  agree=$(awk -v r="$rd" -v t="$tol" 'BEGIN {print (r != "" && r == r + 0 && r + 0 <= t + 0) ? "yes" : "NO"}')
  [ "$agree" = yes ] || AGREE_ALL=0
  echo "final states: relative difference $rd (relative to the change over the run: $rdc), tolerance $tol: agree $agree"
  local ratio ratio_cpu tpp="" bw="-" bwi="" frac="-" fraci=""
  ratio=$(calc %.1f "$t_np / $t_bbd")
  # CPU times come at 1 ms resolution and the start-up's CPU time varies by a few ms:
  # below 0.25 s of bbd-net CPU time the difference says little
  ratio_cpu=$(awk -v a="$t_np_cpu" -v b="$t_bbd_cpu" 'BEGIN {if (b >= 0.25) printf "%.1f", a / b; else print "n/a"}')
  if [ -n "$bytes" ]; then
    if [ -n "$t_fe" ] && [ -n "$nfe" ]; then tpp=$(calc %.6g "$t_fe / $nfe"); else tpp=$(calc %.6g "$t_bbd / $nevals"); fi
    bw=$(calc %.2f "$bytes / $tpp / 1e9")
    bwi=$(calc %.2f "$bytes_impl / $tpp / 1e9")
    frac=$(calc %.2f "$bw / $BW_DRAM")
    fraci=$(calc %.2f "$bwi / $BW_DRAM")
    echo "bbd-net gradient evaluation: $(calc %.4g "$tpp * 1e6") us per forward+backward pass" \
      "(numpy: $(calc %.4g "$t_np_grad * 1e6") us, ratio $(calc %.1f "$t_np_grad / $tpp"))"
    for v in "13 $bytes $bw" "$narr_impl $bytes_impl $bwi"; do
      set -- $v
      echo "  $1 M x N arrays ($2 bytes): $3 GB/s = $(calc %.2f "$3 / $BW_DRAM") of STREAM triad (DRAM)," \
        "$(calc %.2f "$3 / $BW_L3") of L3, $(calc %.2f "$3 / $BW_L2") of L2"
    done
  else
    tpp=$(calc %.6g "$t_bbd / $nevals")
    echo "bbd-net: $(calc %.4g "$tpp * 1e3") ms per SGD step, $(calc %.3g "$flops / $tpp / 1e9") GFlop/s;" \
      "numpy: $(calc %.4g "$t_np / $nevals * 1e3") ms per step, $(calc %.3g "$flops * $nevals / $t_np / 1e9") GFlop/s" \
      "($flops flops per step)"
  fi
  ROWS+=("$(printf '%-9s %9.4g %9.4g %7s %7s %9s %9s %9s %10s %5s' "$name" "$t_bbd" "$t_np" "$ratio" "$ratio_cpu" \
    "$(awk -v t="$tpp" 'BEGIN {printf (t < 0.01 ? "%.4g" : "%.0f"), t * 1e6}')" "$bw${bwi:+/$bwi}" "$frac${fraci:+/$fraci}" "$rd" "$agree")")
}

for c in "${CASES[@]}"; do
  run_case "$c" || { AGREE_ALL=0; ROWS+=("$(printf '%-9s %s' "$c" FAILED)"); }
done

echo
echo "== results (times in s for the whole trajectory, file I/O and start-up excluded)"
printf '%-9s %9s %9s %7s %7s %9s %9s %9s %10s %5s\n' case bbd-net numpy ratio "r(CPU)" "us/pass" "GB/s" "/STREAM" reldiff agree
for r in "${ROWS[@]}"; do echo "$r"; done
echo "ratio = numpy / bbd-net in wall time, r(CPU) in CPU time; us/pass = bbd-net's time per gradient"
echo "evaluation (field) or SGD step (dense); GB/s = bytes of one forward+backward pass (minimal/as"
echo "implemented) / time per pass; /STREAM = that as a fraction of single-core STREAM triad from DRAM"
echo "($BW_DRAM GB/s). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
[ "$AGREE_ALL" = 1 ] || { echo "bbd-net and numpy DISAGREE (or a case failed)"; exit 1; }
