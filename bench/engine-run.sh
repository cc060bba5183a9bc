#!/usr/bin/env bash
# Benchmark: berth's engine against podman 4.3 and docker 20.10, side by side in one run, with a
# busybox image (busybox-static rootfs, imported and pushed to Debian's docker-registry on
# 127.0.0.1, then pulled untimed by every tool). Needs root. For each data location (BENCH_FS):
#   1. `run --rm --network none IMAGE true`: berth CLI -> berthd, podman, docker CLI -> dockerd
#      (started by the script, private data root, no bridge, no iptables). Goal: berth <= 0.3x both.
#   2. the docker CLI (/usr/bin/docker 20.10) -> berthd, same command. Goal: <= 0.3x docker -> dockerd.
#   3. berthd's container start: API create + start -> the user's process exec'd, from the engine's
#      clocks and the runtime's trace (GET /containers/{id}/explain, `startup.createToExecMs`), and
#      `crun run` of a ready bundle running /bin/true (wall clock). Goal: berthd <= crun.
#   4. BENCH_MANY (default 100) sequential `run -d --network none IMAGE sleep 1000` with each tool,
#      interleaved; goal: berth <= 0.3x podman. Then, with them all running, each container's monitor
#      (berth-monitor, conmon, containerd-shim-runc-v2) RSS / PSS from /proc/PID/smaps_rollup, and
#      the daemons' (berthd; dockerd + containerd). Then all are removed (untimed).
#   5. the API while berthd is busy: GET /containers/json?all=1, one at a time every 50 ms, during
#      BENCH_LATENCY_N (default 50) parallel `docker run --rm` (docker CLI -> berthd): median, p90,
#      max. Goal: max <= 50 ms (bench/engine-latency.mjs).
# Rounds of 1-3 are interleaved (each round runs every tool once, in the same order) after
# BENCH_WARMUP (default 1) warm-up rounds: BENCH_N rounds (default 10).
# BENCH_FS: root (stores in a directory on the machine's root filesystem, as /var/lib/* are),
# fresh (a new ext4 in a loop-mounted sparse file, BENCH_FS_SIZE, default 8G), or both (default;
# root then fresh, a table each). Each location holds everything of every tool: data roots and run
# roots (sockets, runtime state; /run is on the root filesystem here).
# Clean-up on success, failure and Ctrl-C: containers removed, daemons stopped, storage unmounted,
# the cgroups, host paths and the v1 hugetlb hierarchy this run made removed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT="$(bench_repo_root)"

N="${BENCH_N:-10}"
WARMUP="${BENCH_WARMUP:-1}"
MANY="${BENCH_MANY:-100}"
LATENCY_N="${BENCH_LATENCY_N:-50}"
FS_MODES="${BENCH_FS:-both}"
BERTH_JS="${BENCH_BERTH:-$ROOT/dist/berth.js}"
BERTHD_JS="${BENCH_BERTHD:-$ROOT/dist/berthd.js}"
DOCKER_BIN=/usr/bin/docker # the 20.10 client (another one may be first on PATH)

case "$FS_MODES" in
  root | fresh) ;;
  both) FS_MODES="root fresh" ;;
  *) echo "engine-run: BENCH_FS=$FS_MODES: want root, fresh or both" >&2; exit 2 ;;
esac
for v in N WARMUP MANY; do
  if ! [[ "${!v}" =~ ^[0-9]+$ ]] || { [[ $v != WARMUP ]] && ((${!v} < 1)); }; then
    echo "engine-run: BENCH_$v=${!v}: want a whole number (N and MANY at least 1)" >&2; exit 2
  fi
done
missing=()
[[ -f "$BERTH_JS" && -f "$BERTHD_JS" ]] || missing+=("$BERTH_JS / $BERTHD_JS (npm run build)")
[[ -x "$ROOT/native/build/berth-init" && -x "$ROOT/native/build/berth-monitor" ]] || missing+=("native/build (make -C native)")
for c in podman dockerd crun docker-registry curl; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
[[ -x "$DOCKER_BIN" ]] || missing+=("$DOCKER_BIN")
if ((${#missing[@]})); then
  echo "engine-run: missing: ${missing[*]}" >&2
  echo "  (apt-get install -y podman conmon crun docker.io docker-registry curl)" >&2
  exit 1
fi

bench_setup engine-run
set -E # an unexpected failure says where, then the clean-up runs
trap 'echo "engine-run: failed (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
RT_CMD[crun]=crun # bench_cleanup deletes what a failed crun run left in $BENCH_DIR/root-crun
# the docker CLI's config (contexts, auth) is its own, not the invoking user's
export DOCKER_CONFIG="$BENCH_DIR/docker-config"
mkdir -p "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json" # podman reads it too (for auth), and fails on a directory without one
export CONTAINERS_CONF="$BENCH_DIR/containers.conf"
cat >"$CONTAINERS_CONF" <<'EOF'
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
EOF
echo '{}' >"$BENCH_DIR/dockerd.json" # not the host's /etc/docker/daemon.json
# berthd makes its default bridge at start (its runs here use --network none): one of its own, removed at the end
BERTH_BRIDGE="${BENCH_BERTH_BRIDGE:-berthbench0}"
printf '{"bridge": "%s", "nftables-table": "berth_bench"}\n' "$BERTH_BRIDGE" >"$BENCH_DIR/berthd.json"

# --- what the run may leave on the host, noted before it starts --------------------------------
# Parent cgroups the engines make and never remove (docker's cgroupfs parent, podman's, berth's),
# and host paths the peers create although every root is private: removed at the end only when
# they were not there before.
CG_PARENTS=(docker libpod_parent berth)
HOST_PATHS=(/run/crun /run/containerd /run/docker /run/libpod /run/containers /var/lib/containers /etc/containers/networks
  /var/lib/cni /etc/cni /etc/docker/key.json /var/lib/docker /run/docker.sock /run/berth /var/lib/berth)
declare -A CG_BEFORE=() PATH_BEFORE=()
for h in /sys/fs/cgroup/*/; do
  for p in "${CG_PARENTS[@]}"; do [[ -d "$h$p" ]] && CG_BEFORE["$h$p"]=1; done
done
for p in "${HOST_PATHS[@]}"; do [[ -e "$p" ]] && PATH_BEFORE["$p"]=1; done
NET_BEFORE="$(ip -o link show | awk -F': ' '{ print $2 }' | sort | tr '\n' ' ')"
FWD_BEFORE="$(cat /proc/sys/net/ipv4/ip_forward)"

# --- daemons: started in their own session so that Ctrl-C reaches the script, not them --------
REGISTRY_PID="" BERTHD_PID="" DOCKERD_PID=""
FS_MOUNT="" DATA="" RUNR="" PHASE=""

BS="" # berthd's socket
berth() { node "$BERTH_JS" -H "unix://$BS" "$@"; }
dockerb() { "$DOCKER_BIN" -H "unix://$BS" "$@"; }            # docker CLI -> berthd
dockerd_cli() { "$DOCKER_BIN" -H "unix://$RUNR/docker.sock" "$@"; } # docker CLI -> dockerd
PODMAN=()
podman_() { podman "${PODMAN[@]}" "$@"; }
start_berthd() { # start_berthd DATA RUN
  BS="$2/berth/berth.sock"
  setsid node "$BERTHD_JS" --data-root "$1/berth" --exec-root "$2/berth" -H "unix://$BS" --config-file "$BENCH_DIR/berthd.json" \
    </dev/null >>"$BENCH_DIR/berthd.log" 2>&1 &
  BERTHD_PID=$!
  disown "$BERTHD_PID" # no "Killed" notice from bash when one dies
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf --unix-socket "$BS" http://berthd/_ping >/dev/null 2>&1 && return 0
    kill -0 "$BERTHD_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "engine-run: berthd did not start; the end of its log:" >&2
  tail -n 5 "$BENCH_DIR/berthd.log" >&2
  return 1
}
start_dockerd() { # start_dockerd DATA RUN
  # no bridge, no iptables, no forwarding: nothing of the host's network is touched
  setsid dockerd --config-file "$BENCH_DIR/dockerd.json" --data-root "$1/docker" --exec-root "$2/docker" \
    --pidfile "$2/docker.pid" -H "unix://$2/docker.sock" --bridge=none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --storage-driver overlay2 </dev/null >>"$BENCH_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  disown "$DOCKERD_PID" # no "Killed" notice from bash when one dies
  local i
  for ((i = 0; i < 600; i++)); do
    dockerd_cli version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "engine-run: dockerd did not start; the end of its log:" >&2
  tail -n 5 "$BENCH_DIR/dockerd.log" >&2
  return 1
}

# berthd's own start: create + start through the API by a client started once per location
# (bench/engine-start-client.mjs), then the engine's timings from explain: not the wall clock,
# this is the engine's path, without any client's start-up.
APIC_PID=""
start_api_client() {
  coproc APIC { exec node "$HERE/engine-start-client.mjs" "$BS" "$IMAGE" 2>>"$BENCH_DIR/api.err"; }
  APIC_PID=$APIC_PID
}
stop_api_client() {
  [[ -n "$APIC_PID" ]] || return 0
  local fd="${APIC[1]:-}" # unset once the coprocess has exited
  if [[ -n "$fd" ]]; then exec {fd}>&-; fi # its end of input: it exits
  bench_stop_pid "$APIC_PID" 5
  APIC_PID=""
}
# Removes every container of the phase's stores (untimed; also the clean-up after a failure or
# Ctrl-C). berth's containers outlive berthd (their monitors hold them), so a berthd that died is
# started again on the same roots to remove them.
remove_all_containers() {
  local ids
  if [[ -n "$BS" && -d "$DATA/berth" ]]; then
    if ! curl -sf --unix-socket "$BS" http://berthd/_ping >/dev/null 2>&1; then
      bench_stop_pid "$BERTHD_PID"
      start_berthd "$DATA" "$RUNR" || true
    fi
    ids="$(dockerb ps -aq 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [[ -z "$ids" ]] || dockerb rm -f $ids >/dev/null 2>>"$BENCH_DIR/cleanup.err" || true
  fi
  if ((${#PODMAN[@]})); then
    podman_ rm -a -f -t 0 >/dev/null 2>>"$BENCH_DIR/cleanup.err" || true
  fi
  if [[ -n "$DOCKERD_PID" ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    ids="$(dockerd_cli ps -aq 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [[ -z "$ids" ]] || dockerd_cli rm -f $ids >/dev/null 2>>"$BENCH_DIR/cleanup.err" || true
  fi
}

# The end of a phase (and of the run): containers, daemons, mounts under the phase's location,
# then the location itself.
end_phase() {
  [[ -n "$PHASE" ]] || return 0
  stop_api_client
  remove_all_containers
  bench_stop_pid "$BERTHD_PID"; BERTHD_PID=""
  bench_stop_pid "$DOCKERD_PID" 30; DOCKERD_PID=""
  # c/storage's private binds and leftovers of a failure, deepest first
  local base="${FS_MOUNT:-$DATA}" m
  for m in $(findmnt -rn -o TARGET | grep "^$BENCH_DIR/." | grep -v "^$FS_MOUNT\$" | sort -r || true); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  if [[ -n "$FS_MOUNT" ]]; then
    umount "$FS_MOUNT" 2>/dev/null || umount -l "$FS_MOUNT" || true
    rm -f "$BENCH_DIR/fresh.img"
    rmdir "$FS_MOUNT" 2>/dev/null || true
  else
    rm -rf "$base"
  fi
  FS_MOUNT="" DATA="" RUNR="" BS="" PODMAN=() PHASE=""
}

# Parent cgroups the engines made (only those absent before, emptied of children first) and the
# host paths the peers created; then a check of what remains.
remove_host_leftovers() {
  local h p d berth_left=""
  for h in /sys/fs/cgroup/*/; do
    # the hugetlb hierarchy this run mounted: hugetlb_release
    [[ "$h" == /sys/fs/cgroup/hugetlb/ ]] && ((BENCH_HUGETLB_MOUNTED)) && continue
    for p in "${CG_PARENTS[@]}"; do
      d="$h$p"
      [[ -d "$d" && -z "${CG_BEFORE[$d]:-}" ]] || continue
      # berth's children would be others' containers (tests running meanwhile): the parent only
      if [[ $p == berth ]]; then
        rmdir "$d" 2>/dev/null || berth_left+="$(find "$d" -mindepth 1 -maxdepth 1 -type d -printf ' %f')"
      else
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        [[ -d "$d" ]] && echo "engine-run: WARNING: cgroup $d is left (not empty)" >&2
      fi
    done
  done
  if [[ -n "$berth_left" ]]; then
    echo "engine-run: WARNING: berth's parent cgroup (/berth) is left: it holds$(tr ' ' '\n' <<<"$berth_left" | sort -u | tr '\n' ' ')(containers of other berth daemons or tests, or ours if berthd failed to remove them)" >&2
  fi
  for p in "${HOST_PATHS[@]}"; do
    [[ -e "$p" && -z "${PATH_BEFORE[$p]:-}" ]] || continue
    if [[ "$p" == /run/crun ]]; then
      # crun's default state root (podman's containers): others' containers may be there by now
      rmdir "$p" 2>/dev/null || echo "engine-run: WARNING: $p is not empty; left" >&2
    elif [[ -d "$p" ]] && findmnt -rn -o TARGET | grep -q "^$p"; then
      echo "engine-run: WARNING: $p has mounts; left" >&2
    else
      rm -rf "$p"
    fi
  done
  [[ " $NET_BEFORE " == *" $BERTH_BRIDGE "* ]] || ip link del "$BERTH_BRIDGE" 2>/dev/null || true
  local net; net="$(ip -o link show | awk -F': ' '{ print $2 }' | sort | tr '\n' ' ')"
  [[ "$net" == "$NET_BEFORE" ]] || echo "engine-run: WARNING: network links changed: before [$NET_BEFORE] after [$net]" >&2
  [[ "$(cat /proc/sys/net/ipv4/ip_forward)" == "$FWD_BEFORE" ]] || echo "engine-run: WARNING: net.ipv4.ip_forward changed" >&2
  local procs
  # the pattern is written so that grep's own command line does not match it
  procs="$(grep -lsE "${BENCH_DIR%?}[${BENCH_DIR: -1}]" /proc/[0-9]*/cmdline 2>/dev/null | grep -v "^/proc/$$/" || true)"
  [[ -z "$procs" ]] || echo "engine-run: WARNING: processes left naming $BENCH_DIR: $(echo "$procs" | cut -d/ -f3 | tr '\n' ' ')" >&2
}

# bench_hugetlb_umount unmounts after 10 s even if cgroups remain, and the hierarchy then lives on
# unmounted, keeping hugetlb from cgroup2 with nobody able to see it. Containers that others start
# while it is mounted join it too: so wait (up to 30 s) for a moment when it holds no cgroup but
# the parents the engines made (removed then), and otherwise leave it mounted, said so.
hugetlb_release() {
  ((BENCH_HUGETLB_MOUNTED)) || return 0
  local h=/sys/fs/cgroup/hugetlb i p left
  for ((i = 0; i < 600; i++)); do
    # docker's and podman's parents hold empty children (podman's conmon); berth's children
    # would be others' containers
    for p in "${CG_PARENTS[@]}"; do
      [[ -d "$h/$p" ]] || continue
      if [[ $p == berth ]]; then rmdir "$h/$p" 2>/dev/null; else find "$h/$p" -depth -type d -exec rmdir {} + 2>/dev/null; fi
    done
    # removed cgroups the kernel has not freed yet count too
    [[ "$(bench_hugetlb_cgroups)" == 1 ]] && break
    sleep 0.05
  done
  left="$(find "$h" -mindepth 1 -type d 2>/dev/null)"
  if [[ -n "$left" ]]; then
    echo "engine-run: WARNING: leaving the v1 hugetlb hierarchy mounted: others' containers joined it meanwhile:" >&2
    printf '%s\n' "$left" | sed 's/^/  /' >&2
    echo "  once they are gone: umount $h && rmdir $h" >&2
    BENCH_HUGETLB_MOUNTED=0 BENCH_HUGETLB_MKDIR=0
  fi
}

cleanup_all() {
  local rc=$?
  set +e
  trap '' INT TERM # a second Ctrl-C must not cut the clean-up short
  trap - ERR       # what fails here is said by the clean-up itself
  end_phase
  bench_stop_pid "$REGISTRY_PID"; REGISTRY_PID=""
  remove_host_leftovers
  hugetlb_release
  (exit "$rc")
  bench_cleanup # hugetlb, then $BENCH_DIR; exits with rc
}
trap cleanup_all EXIT

# crun, and podman through it, need a v1 hugetlb hierarchy on this hybrid layout; every tool runs
# with it mounted, so that all see the same cgroup layout.
if ! bench_hugetlb_mount; then
  echo "engine-run: could not mount a v1 hugetlb hierarchy (crun needs it on hybrid cgroups)" >&2
  exit 1
fi

# --- the image: busybox-static rootfs -> berth import -> push to a registry on 127.0.0.1 --------
echo "engine-run: building the busybox image and the crun bundle ..." >&2
bench_make_bundle "$BENCH_DIR/bundle" /bin/true
tar -C "$BENCH_DIR/bundle/rootfs" -cf "$BENCH_DIR/rootfs.tar" .

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
REG="127.0.0.1:$PORT"
IMAGE="$REG/bench/busybox:latest"
bench_start_registry "$BENCH_DIR/registry" "$REG" # sets REGISTRY_PID

# a staging berthd, only to import and push
PHASE=stage DATA="$BENCH_DIR/stage" RUNR="$BENCH_DIR/stage/run"
mkdir -p "$RUNR"
start_berthd "$DATA" "$RUNR"
berth import -c 'CMD ["/bin/sh"]' "$BENCH_DIR/rootfs.tar" "$IMAGE" >/dev/null
berth push -q "$IMAGE" >/dev/null
end_phase

# --- one run of each --------------------------------------------------------------------------
# run_TOOL ITER; errors to $BENCH_DIR/TOOL.err. Each command is what a user types.
run_berth() { berth run --rm --network none "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/berth.err"; }
run_dockerb() { dockerb run --rm --network none "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/dockerb.err"; }
run_podman() { podman_ run --rm --network none "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/podman.err"; }
run_docker() { dockerd_cli run --rm --network none "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/docker.err"; }
run_crun() {
  crun --root "$BENCH_DIR/root-crun" run --bundle "$BENCH_DIR/bundle" "engine-run-$$-$1" \
    </dev/null >/dev/null 2>>"$BENCH_DIR/crun.err"
}
run_api() {
  local line
  echo round >&"${APIC[1]}" && IFS= read -r line <&"${APIC[0]}" || return 1
  if [[ "$line" != ok\ * ]]; then echo "${line#error }" >>"$BENCH_DIR/api.err"; return 1; fi
  tr ' ' '\t' <<<"${line#ok }" >"$BENCH_DIR/api.last"
}

# many_TOOL ITER: one detached idle container
many_berth() { berth run -d --network none "$IMAGE" sleep 1000 </dev/null >/dev/null 2>>"$BENCH_DIR/berth-many.err"; }
many_podman() { podman_ run -d --network none "$IMAGE" sleep 1000 </dev/null >/dev/null 2>>"$BENCH_DIR/podman-many.err"; }
many_docker() { dockerd_cli run -d --network none "$IMAGE" sleep 1000 </dev/null >/dev/null 2>>"$BENCH_DIR/docker-many.err"; }

# --- report helpers ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }
goal() { # goal TEXT A_US B_US FACTOR: "goal: TEXT: a ms <= FACTOR x b ms = c ms: MET"
  awk -v t="$1" -v a="$2" -v b="$3" -v f="$4" 'BEGIN {
    if (a == "nan" || b == "nan" || a == "" || b == "") { printf "goal: %s: not checked (no figures)\n", t; exit }
    verdict = (a <= f * b) ? "MET" : "NOT MET"
    if (f == 1) printf "goal: %s: %.1f ms <= %.1f ms: %s\n", t, a / 1000, b / 1000, verdict
    else printf "goal: %s: %.1f ms <= %s x %.1f ms = %.1f ms: %s\n", t, a / 1000, f, b / 1000, f * b / 1000, verdict
  }'
}
kib_mib() { awk -v k="$1" 'BEGIN { if (k == "" || k == "nan") print "-"; else printf "%.2f\n", k / 1024 }'; }
# (empty when the process is gone)
smaps() { # smaps PID FIELD: kB from /proc/PID/smaps_rollup (Rss, Pss)
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || true
}
ppid_of() { awk '$1 == "PPid:" { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# --- one data location ------------------------------------------------------------------------
run_phase() {
  local fs="$1" label
  PHASE="$fs"
  if [[ "$fs" == fresh ]]; then
    # a new ext4 in a sparse file; no lazy inode-table init (it would run during the first rounds)
    FS_MOUNT="$BENCH_DIR/fresh"
    truncate -s "${BENCH_FS_SIZE:-8G}" "$BENCH_DIR/fresh.img"
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$BENCH_DIR/fresh.img"
    mkdir -p "$FS_MOUNT"
    mount -o loop "$BENCH_DIR/fresh.img" "$FS_MOUNT"
    DATA="$FS_MOUNT/data" RUNR="$FS_MOUNT/run"
    label="a fresh ext4 (loop-mounted sparse file, ${BENCH_FS_SIZE:-8G})"
  else
    DATA="$BENCH_DIR/data" RUNR="$BENCH_DIR/run"
    label="the root filesystem ($(findmnt -n -o FSTYPE --target "$BENCH_DIR"), $BENCH_DIR)"
  fi
  mkdir -p "$DATA" "$RUNR"
  PODMAN=(--root "$DATA/podman" --runroot "$RUNR/podman" --tmpdir "$RUNR/podman-tmp" --storage-driver overlay)
  : >"$BENCH_DIR/berth.err"; : >"$BENCH_DIR/dockerb.err"; : >"$BENCH_DIR/podman.err"; : >"$BENCH_DIR/docker.err"
  : >"$BENCH_DIR/crun.err"; : >"$BENCH_DIR/api.err"
  start_berthd "$DATA" "$RUNR"
  start_dockerd "$DATA" "$RUNR"

  echo "engine-run [$fs]: pulling $IMAGE with each tool (untimed) ..." >&2
  berth pull -q "$IMAGE" >/dev/null
  podman_ pull -q --tls-verify=false "$IMAGE" >/dev/null
  dockerd_cli pull -q "$IMAGE" >/dev/null
  start_api_client

  # --- 1-3: interleaved rounds --------------------------------------------------------------
  local tools=(berth dockerb podman docker api crun) t i t0 t1
  declare -A fails=() med=() mn=() mx=()
  for t in "${tools[@]}"; do fails[$t]=0; : >"$BENCH_DIR/$t.us"; done
  : >"$BENCH_DIR/api-start.us"; : >"$BENCH_DIR/api-create.us"; : >"$BENCH_DIR/api-gap.us"
  echo "engine-run [$fs]: ${tools[*]}: $N rounds (+$WARMUP warm-up) ..." >&2
  for ((i = 1; i <= WARMUP + N; i++)); do
    for t in "${tools[@]}"; do
      t0="${EPOCHREALTIME/./}"
      if "run_$t" "$i"; then
        t1="${EPOCHREALTIME/./}"
        ((i > WARMUP)) || continue
        if [[ $t == api ]]; then
          local ce se cr
          IFS=$'\t' read -r ce se cr <"$BENCH_DIR/api.last"
          echo "$ce" >>"$BENCH_DIR/api.us"; echo "$se" >>"$BENCH_DIR/api-start.us"; echo "$cr" >>"$BENCH_DIR/api-create.us"
          echo $((ce - cr - se)) >>"$BENCH_DIR/api-gap.us"
        else
          echo $((t1 - t0)) >>"$BENCH_DIR/$t.us"
        fi
      else
        fails[$t]=$((fails[$t] + 1))
        [[ $t == crun ]] && bench_delete_if_left crun "engine-run-$$-$i" "$BENCH_DIR/crun.err"
      fi
    done
  done
  for t in "${tools[@]}" api-start api-create api-gap; do
    med[$t]="$(bench_median <"$BENCH_DIR/$t.us")"; mn[$t]="$(bench_min <"$BENCH_DIR/$t.us")"; mx[$t]="$(bench_max <"$BENCH_DIR/$t.us")"
  done

  stop_api_client

  # --- 5: the API while berthd is busy: GET /containers/json during LATENCY_N parallel runs -----
  echo "engine-run [$fs]: GET /containers/json during $LATENCY_N parallel docker run --rm (docker CLI -> berthd) ..." >&2
  local lat_total lat_polls lat_med lat_p90 lat_max lat_fail
  read -r lat_total lat_polls lat_med lat_p90 lat_max lat_fail < <(node "$HERE/engine-latency.mjs" "$BS" "$IMAGE" "$DOCKER_BIN" "$LATENCY_N" 2>>"$BENCH_DIR/api.err" || echo "nan 0 nan nan nan $LATENCY_N")

  # --- 4: MANY detached containers, interleaved -----------------------------------------------
  local mtools=(berth podman docker)
  echo "engine-run [$fs]: ${mtools[*]}: $MANY sequential run -d each, interleaved ..." >&2
  declare -A mfails=() mtotal=()
  for t in "${mtools[@]}"; do mfails[$t]=0; mtotal[$t]=0; : >"$BENCH_DIR/$t-many.us"; done
  for ((i = 1; i <= MANY; i++)); do
    for t in "${mtools[@]}"; do
      t0="${EPOCHREALTIME/./}"
      if "many_$t" "$i"; then
        t1="${EPOCHREALTIME/./}"
        echo $((t1 - t0)) >>"$BENCH_DIR/$t-many.us"
        mtotal[$t]=$((mtotal[$t] + t1 - t0))
      else
        mfails[$t]=$((mfails[$t] + 1))
      fi
    done
  done

  # memory with all of them running: each container's monitor is its init's parent
  sleep 1 # let the last ones settle to idle
  local pids ppids p
  : >"$BENCH_DIR/mon-berth.kb"; : >"$BENCH_DIR/mon-podman.kb"; : >"$BENCH_DIR/mon-docker.kb"
  # shellcheck disable=SC2046
  pids="$(dockerb inspect -f '{{.State.Pid}}' $(dockerb ps -q 2>/dev/null) 2>>"$BENCH_DIR/berth-many.err" || true)"
  for p in $pids; do p="$(ppid_of "$p")"; [[ -n "$p" ]] && echo "$p $(cat "/proc/$p/comm") $(smaps "$p" Rss) $(smaps "$p" Pss)" >>"$BENCH_DIR/mon-berth.kb"; done
  # shellcheck disable=SC2046
  ppids="$(podman_ inspect -f '{{.State.ConmonPid}}' $(podman_ ps -q 2>/dev/null) 2>>"$BENCH_DIR/podman-many.err" || true)"
  for p in $ppids; do echo "$p $(cat "/proc/$p/comm") $(smaps "$p" Rss) $(smaps "$p" Pss)" >>"$BENCH_DIR/mon-podman.kb"; done
  # shellcheck disable=SC2046
  pids="$(dockerd_cli inspect -f '{{.State.Pid}}' $(dockerd_cli ps -q 2>/dev/null) 2>>"$BENCH_DIR/docker-many.err" || true)"
  for p in $pids; do p="$(ppid_of "$p")"; [[ -n "$p" ]] && echo "$p $(cat "/proc/$p/comm") $(smaps "$p" Rss) $(smaps "$p" Pss)" >>"$BENCH_DIR/mon-docker.kb"; done
  local containerd_pid running_b running_p running_d
  containerd_pid="$(pgrep -P "$DOCKERD_PID" -x containerd | head -n1 || true)"
  # (a daemon that died counts none: the figures of the others are still printed)
  running_b="$( (dockerb ps -q 2>/dev/null || true) | wc -l)"
  running_p="$( (podman_ ps -q 2>/dev/null || true) | wc -l)"
  running_d="$( (dockerd_cli ps -q 2>/dev/null || true) | wc -l)"
  local berthd_rss berthd_pss dockerd_rss containerd_rss
  berthd_rss="$(smaps "$BERTHD_PID" Rss)"; berthd_pss="$(smaps "$BERTHD_PID" Pss)"
  dockerd_rss="$(smaps "$DOCKERD_PID" Rss)"; containerd_rss="$([[ -n "$containerd_pid" ]] && smaps "$containerd_pid" Rss || true)"

  echo "engine-run [$fs]: removing the $MANY x ${#mtools[@]} containers (untimed) ..." >&2
  remove_all_containers

  # --- report for this location -------------------------------------------------------------
  local st
  status_of() { local f="$1" total="$2"; ((f == 0)) && echo ok || echo "failed $f of $total"; }
  echo
  echo "=== engine-run on $label: $IMAGE (busybox-static, 1 layer), $(nproc) cores, $(date -u +%FT%TZ)"
  echo
  echo "1-2. run --rm --network none IMAGE true: $N rounds (after $WARMUP warm-up), wall clock"
  printf '%-26s %10s %10s %10s %9s %9s  %s\n' "client -> engine" "median ms" "min ms" "max ms" "/podman" "/docker" status
  local -A NAME=([berth]="berth -> berthd" [dockerb]="docker CLI -> berthd" [podman]="podman" [docker]="docker CLI -> dockerd")
  for t in berth dockerb podman docker; do
    printf '%-26s %10s %10s %10s %9s %9s  %s\n' "${NAME[$t]}" "$(bench_ms "${med[$t]}")" "$(bench_ms "${mn[$t]}")" "$(bench_ms "${mx[$t]}")" \
      "$(ratio "${med[$t]}" "${med[podman]}")" "$(ratio "${med[$t]}" "${med[docker]}")" "$(status_of "${fails[$t]}" $((WARMUP + N)))"
  done
  echo
  echo "3. container start in berthd (engine clocks + runtime trace) vs crun run of a ready bundle (wall clock), same rounds"
  printf '%-40s %10s %10s %10s %9s  %s\n' "" "median ms" "min ms" "max ms" "/crun" status
  printf '%-40s %10s %10s %10s %9s  %s\n' "berthd create request -> execve" "$(bench_ms "${med[api]}")" "$(bench_ms "${mn[api]}")" "$(bench_ms "${mx[api]}")" \
    "$(ratio "${med[api]}" "${med[crun]}")" "$(status_of "${fails[api]}" $((WARMUP + N)))"
  printf '%-40s %10s %10s %10s %9s\n' "  create (the engine's phases)" "$(bench_ms "${med[api-create]}")" "$(bench_ms "${mn[api-create]}")" "$(bench_ms "${mx[api-create]}")" "-"
  printf '%-40s %10s %10s %10s %9s\n' "  then to the start request (HTTP)" "$(bench_ms "${med[api-gap]}")" "$(bench_ms "${mn[api-gap]}")" "$(bench_ms "${mx[api-gap]}")" "-"
  printf '%-40s %10s %10s %10s %9s\n' "  start request -> execve" "$(bench_ms "${med[api-start]}")" "$(bench_ms "${mn[api-start]}")" "$(bench_ms "${mx[api-start]}")" "-"
  printf '%-40s %10s %10s %10s %9s  %s\n' "crun run /bin/true" "$(bench_ms "${med[crun]}")" "$(bench_ms "${mn[crun]}")" "$(bench_ms "${mx[crun]}")" \
    "1.00x" "$(status_of "${fails[crun]}" $((WARMUP + N)))"
  echo
  echo "5. GET /containers/json?all=1 (one at a time, every 50 ms) during $LATENCY_N parallel docker run --rm -> berthd"
  echo "   $lat_polls answers: median $lat_med ms, p90 $lat_p90 ms, max $lat_max ms; the $LATENCY_N runs took $(awk -v t="$lat_total" 'BEGIN { if (t == "nan") print "nan"; else printf "%.2f", t / 1000 }') s, $lat_fail failed"
  echo
  echo "4. $MANY sequential run -d --network none IMAGE sleep 1000, interleaved"
  printf '%-26s %10s %12s %10s %10s %9s  %s\n' "client -> engine" "total s" "median ms" "min ms" "max ms" "/podman" status
  local -A MNAME=([berth]="berth -> berthd" [podman]="podman" [docker]="docker CLI -> dockerd")
  for t in "${mtools[@]}"; do
    printf '%-26s %10s %12s %10s %10s %9s  %s\n' "${MNAME[$t]}" "$(awk -v u="${mtotal[$t]}" 'BEGIN { printf "%.2f", u / 1e6 }')" \
      "$(bench_ms "$(bench_median <"$BENCH_DIR/$t-many.us")")" "$(bench_ms "$(bench_min <"$BENCH_DIR/$t-many.us")")" "$(bench_ms "$(bench_max <"$BENCH_DIR/$t-many.us")")" \
      "$(ratio "${mtotal[$t]}" "${mtotal[podman]}")" "$(status_of "${mfails[$t]}" "$MANY")"
  done
  echo
  echo "   per idle container's monitor, from /proc/PID/smaps_rollup, with all ${running_b}+${running_p}+${running_d} running (median, max over the containers)"
  printf '   %-26s %6s %14s %14s %14s %14s\n' monitor count "RSS MiB med" "RSS MiB max" "PSS MiB med" "PSS MiB max"
  local mon_rss=() mon_pss=() k
  for t in berth podman docker; do
    k="$BENCH_DIR/mon-$t.kb"
    local comm; comm="$(awk 'NR == 1 { print $2 }' "$k")"
    local rmed pmed
    rmed="$(awk '{ print $3 }' "$k" | bench_median)"; pmed="$(awk '{ print $4 }' "$k" | bench_median)"
    printf '   %-26s %6s %14s %14s %14s %14s\n' "${comm:-($t: none)}" "$(wc -l <"$k")" \
      "$(kib_mib "$rmed")" "$(kib_mib "$(awk '{ print $3 }' "$k" | bench_max)")" \
      "$(kib_mib "$pmed")" "$(kib_mib "$(awk '{ print $4 }' "$k" | bench_max)")"
    mon_rss+=("$rmed"); mon_pss+=("$pmed")
  done
  echo "   daemons with them running: berthd RSS $(kib_mib "$berthd_rss") MiB (PSS $(kib_mib "$berthd_pss") MiB, $running_b containers);" \
    "dockerd RSS $(kib_mib "$dockerd_rss") MiB + containerd RSS $(kib_mib "$containerd_rss") MiB ($running_d containers); podman has none"
  echo
  local ok_run=0
  [[ "${fails[berth]}" == 0 && "${fails[podman]}" == 0 && "${fails[docker]}" == 0 ]] && ok_run=1
  if ((ok_run)); then
    goal "1. berth run --rm <= 0.3 x podman" "${med[berth]}" "${med[podman]}" 0.3
    goal "1. berth run --rm <= 0.3 x docker" "${med[berth]}" "${med[docker]}" 0.3
  else
    echo "goal: 1. berth run --rm <= 0.3 x podman and docker: not checked (failures)"
  fi
  if [[ "${fails[dockerb]}" == 0 && "${fails[docker]}" == 0 ]]; then
    goal "2. docker CLI -> berthd <= 0.3 x docker CLI -> dockerd" "${med[dockerb]}" "${med[docker]}" 0.3
  else
    echo "goal: 2. docker CLI -> berthd <= 0.3 x dockerd: not checked (failures)"
  fi
  if [[ "${fails[api]}" == 0 && "${fails[crun]}" == 0 ]]; then
    goal "3. berthd create+start -> execve <= crun run" "${med[api]}" "${med[crun]}" 1
  else
    echo "goal: 3. berthd start <= crun run: not checked (failures)"
  fi
  if [[ "${mfails[berth]}" == 0 && "${mfails[podman]}" == 0 ]]; then
    goal "4. $MANY x berth run -d <= 0.3 x podman" "${mtotal[berth]}" "${mtotal[podman]}" 0.3
  else
    echo "goal: 4. $MANY x berth run -d <= 0.3 x podman: not checked (failures)"
  fi
  awk -v m="$lat_max" -v f="$lat_fail" 'BEGIN {
    if (m == "nan") { print "goal: 5. GET /containers/json <= 50 ms during the runs: not checked (no figures)"; exit }
    printf "goal: 5. GET /containers/json during the runs: max %.1f ms <= 50 ms: %s%s\n", m, (m <= 50) ? "MET" : "NOT MET", (f > 0) ? " (" f " runs failed)" : ""
  }'
  awk -v br="${mon_rss[0]}" -v bp="${mon_pss[0]}" -v cr="${mon_rss[1]}" -v cp="${mon_pss[1]}" 'BEGIN {
    if (br == "nan" || cr == "nan") { print "goal: 4. berth-monitor <= conmon: not checked (no figures)"; exit }
    printf "goal: 4. berth-monitor RSS %.2f MiB <= conmon %.2f MiB: %s; PSS %.2f MiB <= conmon %.2f MiB: %s\n",
      br / 1024, cr / 1024, (br <= cr) ? "MET" : "NOT MET", bp / 1024, cp / 1024, (bp <= cp) ? "MET" : "NOT MET"
  }'
  # the first lines of what failed, while the files exist
  for st in berth dockerb podman docker api crun berth-many podman-many docker-many; do
    if [[ -s "$BENCH_DIR/$st.err" ]]; then
      echo "engine-run [$fs]: $st stderr (first lines):" >&2
      head -n 5 "$BENCH_DIR/$st.err" | sed 's/^/  /' >&2
    fi
    rm -f "$BENCH_DIR/$st.err"
  done
  end_phase
}

for fs in $FS_MODES; do run_phase "$fs"; done
