#!/usr/bin/env bash
# Benchmark: what resource limits cost a `run`. /bin/true in two busybox bundles, one with the
# tests' default config and one that adds memory + cpu + pids limits
# (linux.resources: memory 256 MiB and memory+swap 256 MiB, cpu shares 512 and quota
# 50 ms per 100 ms, pids 100), with runc, crun and berth-oci side by side. Each iteration runs
# both bundles, alternating which goes first, so that drift hits both alike. BENCH_N iterations
# (default 30) after BENCH_WARMUP (default 3). Prints medians and the goal check
# "berth-oci with limits <= berth-oci without + 1 ms". Needs root.
#
# BENCH_RUNTIMES: which of "runc crun berth-oci" to measure (default all three);
# BENCH_BERTH_OCI: the berth-oci to measure (default dist/berth-oci.js);
# BENCH_BERTH_OCI_BASE: optionally another build (e.g. part 1's dist/berth-oci.js), measured the
# same way, to compare against its figure without limits as well.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT="$(bench_repo_root)"

N="${BENCH_N:-30}"
WARMUP="${BENCH_WARMUP:-3}"
BERTH_OCI="${BENCH_BERTH_OCI:-$ROOT/dist/berth-oci.js}"
BERTH_OCI_BASE="${BENCH_BERTH_OCI_BASE:-}"
RUNTIMES=" ${BENCH_RUNTIMES:-runc crun berth-oci} "
wanted() { [[ "$RUNTIMES" == *" $1 "* ]]; }

bench_setup oci-run-limits
PLAIN="$BENCH_DIR/plain"
LIMITS="$BENCH_DIR/limits"
ID_PREFIX="berth-bench-lim-$$"

bench_make_bundle "$PLAIN" /bin/true
bench_make_bundle "$LIMITS" /bin/true
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const c = JSON.parse(fs.readFileSync(file, "utf8"));
  c.linux.resources = Object.assign(c.linux.resources || {}, {
    memory: { limit: 268435456, swap: 268435456 },
    cpu: { shares: 512, quota: 50000, period: 100000 },
    pids: { limit: 100 },
  });
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
' "$LIMITS/config.json"

# one_run NAME BUNDLE KIND ITER: a timed-by-caller `run`, then delete if state remains
one_run() {
  local name="$1" bundle="$2" kind="$3" i="$4" rc=0 dir="$BENCH_DIR/root-$1"
  local id="$ID_PREFIX-$name-$kind-$i"
  # shellcheck disable=SC2086
  ${RT_CMD[$name]} --root "$dir" run --bundle "$bundle" "$id" </dev/null >/dev/null 2>>"$BENCH_DIR/$name-$kind.err" || rc=$?
  return "$rc"
}
after_run() { bench_delete_if_left "$1" "$ID_PREFIX-$1-$2-$3" "$BENCH_DIR/$1-$2.err"; }

declare -A MEDIAN=() MIN=() STATUS=()
ORDER=()

# measure_pair NAME: WARMUP+N iterations of (plain, limits), the order alternating
measure_pair() {
  local name="$1" i k t0 t1 rc fails=0 kinds
  ORDER+=("$name")
  printf 'oci-run-limits: %-16s %d x 2 runs (+%d warm-up) ...\n' "$name" "$N" "$WARMUP" >&2
  : >"$BENCH_DIR/$name-plain.us"
  : >"$BENCH_DIR/$name-limits.us"
  for ((i = 1; i <= WARMUP + N; i++)); do
    if ((i % 2)); then kinds=(plain limits); else kinds=(limits plain); fi
    for k in "${kinds[@]}"; do
      local bundle="$PLAIN"
      [[ "$k" == limits ]] && bundle="$LIMITS"
      t0="${EPOCHREALTIME/./}"
      rc=0
      one_run "$name" "$bundle" "$k" "$i" || rc=$?
      t1="${EPOCHREALTIME/./}"
      after_run "$name" "$k" "$i"
      if ((rc != 0)); then
        fails=$((fails + 1))
        continue
      fi
      if ((i > WARMUP)); then echo $((t1 - t0)) >>"$BENCH_DIR/$name-$k.us"; fi
    done
  done
  STATUS[$name]=ok
  if ((fails)); then
    STATUS[$name]="failed ($fails runs)"
    for k in plain limits; do
      if [[ -s "$BENCH_DIR/$name-$k.err" ]]; then
        echo "oci-run-limits: $name ($k) stderr (first lines):" >&2
        head -n 5 "$BENCH_DIR/$name-$k.err" | sed 's/^/  /' >&2
      fi
    done
  fi
  # a limit the runtime warned about was not set: the figure would not be a "with limits" one
  if [[ -s "$BENCH_DIR/$name-limits.err" ]] && grep -qi warn "$BENCH_DIR/$name-limits.err"; then
    echo "oci-run-limits: $name warned with limits set:" >&2
    sort -u "$BENCH_DIR/$name-limits.err" | head -n 5 | sed 's/^/  /' >&2
  fi
  for k in plain limits; do
    MEDIAN[$name-$k]="$(bench_median <"$BENCH_DIR/$name-$k.us")"
    MIN[$name-$k]="$(bench_min <"$BENCH_DIR/$name-$k.us")"
  done
}

skip() { ORDER+=("$1"); STATUS[$1]="skipped: $2"; echo "oci-run-limits: skipping $1: $2" >&2; }

# --- measurements -------------------------------------------------------------------

if ! wanted runc; then
  skip runc "not in BENCH_RUNTIMES"
elif command -v runc >/dev/null 2>&1; then
  RT_CMD[runc]="runc"
  measure_pair runc
else
  skip runc "runc not installed"
fi

if ! wanted crun; then
  skip crun "not in BENCH_RUNTIMES"
elif command -v crun >/dev/null 2>&1; then
  RT_CMD[crun]="crun"
  if bench_hugetlb_mount; then
    measure_pair crun
  else
    skip crun "could not mount a v1 hugetlb hierarchy (crun needs it on hybrid cgroups)"
  fi
  bench_hugetlb_umount
else
  skip crun "crun not installed"
fi

if ! wanted berth-oci; then
  skip berth-oci "not in BENCH_RUNTIMES"
elif [[ -f "$BERTH_OCI" ]]; then
  RT_CMD[berth-oci]="node $BERTH_OCI"
  measure_pair berth-oci
else
  skip berth-oci "$BERTH_OCI not built (npm run build)"
fi

if [[ -n "$BERTH_OCI_BASE" ]]; then
  if [[ -f "$BERTH_OCI_BASE" ]]; then
    RT_CMD[berth-oci-base]="node $BERTH_OCI_BASE"
    measure_pair berth-oci-base
  else
    skip berth-oci-base "$BERTH_OCI_BASE not found"
  fi
fi

# --- report ---------------------------------------------------------------------------

ms() { bench_ms "$1"; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "-"; else printf "%+.1f\n", (a - b) / 1000 }'; }

echo
echo "oci-run-limits: /bin/true, without and with memory + cpu + pids limits, $N runs each (after $WARMUP warm-up), $(nproc) cores"
printf '%-16s %12s %12s %10s %11s %11s  %s\n' runtime "plain med" "limits med" "delta ms" "plain min" "limits min" status
for name in "${ORDER[@]}"; do
  if [[ "${STATUS[$name]}" == skipped* ]]; then
    printf '%-16s %12s %12s %10s %11s %11s  %s\n' "$name" - - - - - "${STATUS[$name]}"
    continue
  fi
  printf '%-16s %12s %12s %10s %11s %11s  %s\n' "$name" \
    "$(ms "${MEDIAN[$name-plain]}")" "$(ms "${MEDIAN[$name-limits]}")" \
    "$(delta "${MEDIAN[$name-limits]}" "${MEDIAN[$name-plain]}")" \
    "$(ms "${MIN[$name-plain]}")" "$(ms "${MIN[$name-limits]}")" "${STATUS[$name]}"
done
echo

if [[ -z "${STATUS[berth-oci]:-}" || "${STATUS[berth-oci]}" == skipped* || "${MEDIAN[berth-oci-limits]}" == nan || "${MEDIAN[berth-oci-plain]}" == nan ]]; then
  echo "goal: berth-oci with limits <= without + 1 ms: not checked (berth-oci ${STATUS[berth-oci]:-not run})"
else
  awk -v l="${MEDIAN[berth-oci-limits]}" -v p="${MEDIAN[berth-oci-plain]}" -v lm="${MIN[berth-oci-limits]}" -v pm="${MIN[berth-oci-plain]}" -v st="${STATUS[berth-oci]}" 'BEGIN {
    verdict = (l <= p + 1000) ? "MET" : "NOT MET"
    printf "goal: berth-oci with limits %.1f ms <= without %.1f ms + 1 ms: %s (limits cost %+.1f ms on the medians, %+.1f ms on the minimums)%s\n", l / 1000, p / 1000, verdict, (l - p) / 1000, (lm - pm) / 1000, (st == "ok" ? "" : "; berth-oci " st)
  }'
  if [[ "${STATUS[berth-oci-base]:-}" == ok ]]; then
    awk -v l="${MEDIAN[berth-oci-limits]}" -v p="${MEDIAN[berth-oci-base-plain]}" 'BEGIN {
      verdict = (l <= p + 1000) ? "MET" : "NOT MET"
      printf "goal: berth-oci with limits %.1f ms <= the base build without limits %.1f ms + 1 ms: %s\n", l / 1000, p / 1000, verdict
    }'
  fi
fi

bench_warn_left_cgroups "$ID_PREFIX"
