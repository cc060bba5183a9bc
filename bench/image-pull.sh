#!/usr/bin/env bash
# Benchmark: pull a 3-layer Debian image (~175 MB uncompressed, ~61 MB gzip; built once by
# bench/debian-image.sh from debootstrap minbase) from Debian's docker-registry on 127.0.0.1 into
# an empty store, BENCH_N times (default 5, after BENCH_WARMUP=1), with berth, podman and docker
# side by side, interleaved. Every tool unpacks the layers (docker's and podman's pull do; berth's too). Prints
# medians, ratios, berth's peak RSS, and the goal check "berth <= 0.5 x podman". Needs root.
# Peers missing are skipped (docker.io: `apt-get install docker.io`; BENCH_INSTALL=1 does it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT="$(bench_repo_root)"

N="${BENCH_N:-5}"
WARMUP="${BENCH_WARMUP:-1}"
BERTH="${BENCH_BERTH:-$ROOT/dist/berth.js}"

if [[ "${BENCH_INSTALL:-0}" == 1 ]] && ! command -v dockerd >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

bench_setup image-pull
LAYOUT="$(bash "$HERE/debian-image.sh")"

# --- the registry -----------------------------------------------------------------------------
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
REG="127.0.0.1:$PORT"
IMAGE="$REG/bench/debian:3layer"
mkdir -p "$BENCH_DIR/registry"
cat >"$BENCH_DIR/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $BENCH_DIR/registry/data
http:
  addr: $REG
EOF
docker-registry serve "$BENCH_DIR/registry/config.yml" >"$BENCH_DIR/registry/log" 2>&1 &
REGISTRY_PID=$!
DOCKERD_PID=""
stop_daemons() {
  set +e # `wait` on a killed daemon returns its signal status
  if [[ -n "$DOCKERD_PID" ]]; then kill "$DOCKERD_PID" 2>/dev/null; wait "$DOCKERD_PID" 2>/dev/null; fi
  kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null
  # what the peers may leave mounted (c/storage's private binds, dockerd's exec root), then the fs
  findmnt -rn -o TARGET | grep "^$BENCH_DIR/." | sort -r | xargs -r -n1 umount 2>/dev/null || true
  findmnt -rn -o TARGET | grep "^$BENCH_DIR/." | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -f "$BENCH_DIR/fs.img"
}
trap 'stop_daemons; bench_cleanup' EXIT
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.05; done
skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:3layer" "docker://$IMAGE"

# --- a fresh filesystem for the stores --------------------------------------------------------
# Every store lives on a new ext4 in a loop-mounted sparse file, and no store is deleted until the
# end: after many deletions ext4's inode allocator scans recently deleted inodes on each create
# (recently_deleted() in perf), which made file creation here 5-20x slower and varying by the
# minute — whichever tool ran after a deletion paid for it.
FS="$BENCH_DIR/fs"
truncate -s "${BENCH_FS_SIZE:-24G}" "$BENCH_DIR/fs.img"
# no lazy inode-table init: it would run in the background during the first rounds
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$BENCH_DIR/fs.img"
mkdir -p "$FS"
mount -o loop "$BENCH_DIR/fs.img" "$FS"

# --- one pull of each (store N is new and empty) ----------------------------------------------
pull_berth() {
  /usr/bin/time -f %M -a -o "$BENCH_DIR/berth.rss" \
    node "$BERTH" --root "$FS/berth-$1" pull -q "$IMAGE" >/dev/null 2>>"$BENCH_DIR/berth.err"
}
before_berth() { :; }
after_berth() { :; }

export CONTAINERS_CONF="$BENCH_DIR/containers.conf"
cat >"$CONTAINERS_CONF" <<'EOF'
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
EOF
pull_podman() {
  podman --root "$FS/podman-$1/root" --runroot "$FS/podman-$1/run" --storage-driver overlay \
    pull -q --tls-verify=false "$IMAGE" >/dev/null 2>>"$BENCH_DIR/podman.err"
}
before_podman() { :; }
after_podman() { :; }

# dockerd gets a new data root each round (untimed start and stop)
DOCKER=(/usr/bin/docker -H "unix://$BENCH_DIR/docker.sock")
pull_docker() { "${DOCKER[@]}" pull -q "$IMAGE" >/dev/null 2>>"$BENCH_DIR/docker.err"; }
before_docker() { start_dockerd "$1"; }
after_docker() { stop_dockerd; }
start_dockerd() {
  # no bridge, no iptables, no forwarding: nothing of the host's network is touched
  dockerd --data-root "$FS/docker-$1" --exec-root "$BENCH_DIR/docker-exec" --pidfile "$BENCH_DIR/docker.pid" \
    -H "unix://$BENCH_DIR/docker.sock" --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --storage-driver overlay2 >>"$BENCH_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 300); do "${DOCKER[@]}" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "image-pull: dockerd did not start (log: $BENCH_DIR/dockerd.log)" >&2
  tail -n 5 "$BENCH_DIR/dockerd.log" >&2
  return 1
}
stop_dockerd() {
  if [[ -n "$DOCKERD_PID" ]]; then kill "$DOCKERD_PID" 2>/dev/null; wait "$DOCKERD_PID" 2>/dev/null || true; fi
  DOCKERD_PID=""
}

declare -A MEDIAN=() MIN=() MAX=() STATUS=() FAILS=()
ORDER=()
skip() { ORDER+=("$1"); STATUS[$1]="skipped: $2"; echo "image-pull: skipping $1: $2" >&2; }

# --- measurements -----------------------------------------------------------------------------
# Interleaved: each round pulls with every tool in turn, so that the machine's drift (this VM's
# file creation cost varies several-fold over minutes) falls on all of them alike.
TOOLS=()
if [[ -f "$BERTH" ]]; then TOOLS+=(berth); else skip berth "$BERTH not built (npm run build)"; fi
if command -v podman >/dev/null 2>&1; then TOOLS+=(podman); else skip podman "podman not installed"; fi
if command -v dockerd >/dev/null 2>&1; then
  if start_dockerd probe; then stop_dockerd; TOOLS+=(docker); else stop_dockerd; skip docker "dockerd did not start"; fi
else
  skip docker "docker.io not installed (BENCH_INSTALL=1 installs it)"
fi
for t in "${TOOLS[@]}"; do ORDER+=("$t"); FAILS[$t]=0; : >"$BENCH_DIR/$t.us"; done
echo "image-pull: ${TOOLS[*]}: $N rounds (+$WARMUP warm-up) ..." >&2
for ((i = 1; i <= WARMUP + N; i++)); do
  for t in "${TOOLS[@]}"; do
    "before_$t" "$i" || { FAILS[$t]=$((FAILS[$t] + 1)); continue; }
    sync
    t0="${EPOCHREALTIME/./}"
    if "pull_$t" "$i"; then
      t1="${EPOCHREALTIME/./}"
      if ((i > WARMUP)); then echo $((t1 - t0)) >>"$BENCH_DIR/$t.us"; fi
    else
      FAILS[$t]=$((FAILS[$t] + 1))
    fi
    "after_$t" "$i"
  done
done
for t in "${TOOLS[@]}"; do
  if ((FAILS[$t] == 0)); then STATUS[$t]=ok; else
    STATUS[$t]="failed ${FAILS[$t]} of $((WARMUP + N))"
    [[ -s "$BENCH_DIR/$t.err" ]] && head -n 5 "$BENCH_DIR/$t.err" | sed 's/^/  /' >&2
  fi
  MEDIAN[$t]="$(bench_median <"$BENCH_DIR/$t.us")"
  MIN[$t]="$(bench_min <"$BENCH_DIR/$t.us")"
  MAX[$t]="$(bench_max <"$BENCH_DIR/$t.us")"
done

# --- report -----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }
echo
echo "image-pull: $IMAGE (3 layers, $(du -sb "$LAYOUT/blobs" | cut -f1) bytes compressed) into an empty store, $N pulls each (after $WARMUP warm-up), $(nproc) cores"
printf '%-8s %10s %10s %10s %9s %9s  %s\n' tool "median ms" "min ms" "max ms" "/podman" "/docker" status
for name in "${ORDER[@]}"; do
  if [[ "${STATUS[$name]}" == skipped* ]]; then
    printf '%-8s %10s %10s %10s %9s %9s  %s\n' "$name" - - - - - "${STATUS[$name]}"
    continue
  fi
  printf '%-8s %10s %10s %10s %9s %9s  %s\n' "$name" "$(bench_ms "${MEDIAN[$name]}")" "$(bench_ms "${MIN[$name]}")" "$(bench_ms "${MAX[$name]}")" \
    "$(ratio "${MEDIAN[$name]}" "${MEDIAN[podman]:-}")" "$(ratio "${MEDIAN[$name]}" "${MEDIAN[docker]:-}")" "${STATUS[$name]}"
done
echo
if [[ -s "$BENCH_DIR/berth.rss" ]]; then
  echo "berth peak RSS during the pull: median $(bench_median <"$BENCH_DIR/berth.rss" | awk '{ printf "%.1f", $1 / 1024 }') MiB, max $(bench_max <"$BENCH_DIR/berth.rss" | awk '{ printf "%.1f", $1 / 1024 }') MiB"
fi
if [[ "${STATUS[berth]:-}" == ok && "${STATUS[podman]:-}" == ok ]]; then
  awk -v b="${MEDIAN[berth]}" -v p="${MEDIAN[podman]}" 'BEGIN {
    printf "goal: berth %.0f ms <= 0.5 x podman %.0f ms = %.0f ms: %s\n", b / 1000, p / 1000, p / 2000, (b <= p / 2) ? "MET" : "NOT MET"
  }'
else
  echo "goal: berth <= 0.5 x podman: not checked (berth ${STATUS[berth]:-?}, podman ${STATUS[podman]:-?})"
fi
