#!/usr/bin/env bash
# Benchmark: run /bin/true in a busybox bundle N times (BENCH_N, default 30)
# with `node -e 0` (Node start-up baseline), runc, crun and berth-oci
# (node dist/berth-oci.js), each with --root in its own temp dir and a fresh
# container id per run. Prints medians, ratios and the goal check
# "berth-oci <= node -e 0 + crun". Needs root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT="$(bench_repo_root)"

N="${BENCH_N:-30}"
WARMUP="${BENCH_WARMUP:-3}"
BERTH_OCI="${BENCH_BERTH_OCI:-$ROOT/dist/berth-oci.js}"  # override to bench another build

bench_setup oci-run
BUNDLE="$BENCH_DIR/bundle"
ID_PREFIX="berth-bench-$$"

bench_make_bundle "$BUNDLE" /bin/true

# --- one run of each --------------------------------------------------------------

run_node() { node -e 0; }

# run_rt NAME ITER: `<rt> --root R run --bundle B ID`, stdio away from the terminal.
run_rt() {
  local name="$1" i="$2"
  # shellcheck disable=SC2086
  ${RT_CMD[$name]} --root "$BENCH_DIR/root-$name" run --bundle "$BUNDLE" "$ID_PREFIX-$name-$i" \
    </dev/null >/dev/null 2>>"$BENCH_DIR/$name.err"
}
# after_rt NAME ITER: delete the container if its state remains.
after_rt() { bench_delete_if_left "$1" "$ID_PREFIX-$1-$2" "$BENCH_DIR/$1.err"; }

run_runc() { run_rt runc "$1"; }
after_runc() { after_rt runc "$1"; }
run_crun() { run_rt crun "$1"; }
after_crun() { after_rt crun "$1"; }
run_berth() { run_rt berth-oci "$1"; }
after_berth() { after_rt berth-oci "$1"; }

declare -A MEDIAN=() MIN=() MAX=() STATUS=()
ORDER=()

measure() { # measure NAME RUNFN [AFTERFN]
  local name="$1" fn="$2" after="${3:-}"
  ORDER+=("$name")
  printf 'oci-run: %-10s %d runs (+%d warm-up) ...\n' "$name" "$N" "$WARMUP" >&2
  if BENCH_AFTER="$after" bench_time_loop "$name" "$N" "$WARMUP" "$fn"; then
    STATUS[$name]=ok
  else
    STATUS[$name]=failed
    if [[ -s "$BENCH_DIR/$name.err" ]]; then
      echo "oci-run: $name stderr (first lines):" >&2
      head -n 5 "$BENCH_DIR/$name.err" | sed 's/^/  /' >&2
    fi
  fi
  MEDIAN[$name]="$(bench_median <"$BENCH_DIR/$name.us")"
  MIN[$name]="$(bench_min <"$BENCH_DIR/$name.us")"
  MAX[$name]="$(bench_max <"$BENCH_DIR/$name.us")"
}

skip() { ORDER+=("$1"); STATUS[$1]="skipped: $2"; echo "oci-run: skipping $1: $2" >&2; }

# --- measurements -------------------------------------------------------------------

measure "node -e 0" run_node

if command -v runc >/dev/null 2>&1; then
  RT_CMD[runc]="runc"
  measure runc run_runc after_runc
else
  skip runc "runc not installed"
fi

if command -v crun >/dev/null 2>&1; then
  RT_CMD[crun]="crun"
  if bench_hugetlb_mount; then
    measure crun run_crun after_crun
  else
    skip crun "could not mount a v1 hugetlb hierarchy (crun needs it on hybrid cgroups)"
  fi
  bench_hugetlb_umount
else
  skip crun "crun not installed"
fi

if [[ -f "$BERTH_OCI" ]]; then
  RT_CMD[berth-oci]="node $BERTH_OCI"
  measure berth-oci run_berth after_berth
else
  skip berth-oci "$BERTH_OCI not built (npm run build)"
fi

# --- report ---------------------------------------------------------------------------

ratio() { # ratio A_US B_US
  awk -v a="$1" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }'
}

echo
echo "oci-run: /bin/true in a busybox bundle, $N runs each (after $WARMUP warm-up), $(nproc) cores"
printf '%-12s %10s %10s %10s %9s %9s %9s  %s\n' runtime "median ms" "min ms" "max ms" "/node" "/runc" "/crun" status
for name in "${ORDER[@]}"; do
  if [[ "${STATUS[$name]}" == skipped* ]]; then
    printf '%-12s %10s %10s %10s %9s %9s %9s  %s\n' "$name" - - - - - - "${STATUS[$name]}"
    continue
  fi
  printf '%-12s %10s %10s %10s %9s %9s %9s  %s\n' "$name" \
    "$(bench_ms "${MEDIAN[$name]}")" "$(bench_ms "${MIN[$name]}")" "$(bench_ms "${MAX[$name]}")" \
    "$(ratio "${MEDIAN[$name]}" "${MEDIAN[node -e 0]:-}")" \
    "$(ratio "${MEDIAN[$name]}" "${MEDIAN[runc]:-}")" \
    "$(ratio "${MEDIAN[$name]}" "${MEDIAN[crun]:-}")" \
    "${STATUS[$name]}"
done
echo

node_us="${MEDIAN[node -e 0]:-}"
crun_us="${MEDIAN[crun]:-}"
berth_us="${MEDIAN[berth-oci]:-}"
if [[ "${STATUS[berth-oci]}" != ok ]]; then
  echo "goal: berth-oci <= node -e 0 + crun: not checked (berth-oci ${STATUS[berth-oci]})"
elif [[ "${STATUS[crun]}" != ok ]]; then
  echo "goal: berth-oci <= node -e 0 + crun: not checked (crun ${STATUS[crun]})"
else
  awk -v b="$berth_us" -v n="$node_us" -v c="$crun_us" 'BEGIN {
    verdict = (b <= n + c) ? "MET" : "NOT MET"
    printf "goal: berth-oci %.1f ms <= node -e 0 %.1f ms + crun %.1f ms = %.1f ms: %s\n", b / 1000, n / 1000, c / 1000, (n + c) / 1000, verdict
  }'
fi

bench_warn_left_cgroups "$ID_PREFIX"
