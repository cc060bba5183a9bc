#!/usr/bin/env bash
# Benchmark: bridge networking, berth against podman 4.3 and docker 20.10 side by side in one run,
# with the busybox image of bench/engine-run.sh (busybox-static rootfs, imported and pushed to
# Debian's docker-registry on 127.0.0.1, pulled untimed by every tool). Needs root. For each data
# location (BENCH_FS, as engine-run.sh):
#   1. `run --rm -p HOSTPORT:80 IMAGE true` on each tool's default bridge: berth CLI -> berthd,
#      docker CLI -> berthd, podman (root: its default network, netavark or CNI as this podman
#      picks; the report says which), docker CLI -> dockerd (docker's defaults: docker0, iptables,
#      userland proxy). BENCH_N interleaved rounds after BENCH_WARMUP; medians. Goal: berth <= 0.3x
#      podman and docker.
#   2. the network's share of a berth container start: API create + start of `true` with one
#      published port on the bridge vs with --network none, alternated, from the engine's clocks
#      (GET /containers/{id}/explain: startup.createToExecMs, and the start phases, among them the
#      bridge's 'sandbox' and 'network'). Goal: the bridge adds <= 5 ms.
#   3. TCP throughput on loopback: a container running a sink (busybox `nc -ll -p 80 -e dd
#      of=/dev/null bs=1M`), published on 127.0.0.1:HOSTPORT; the host sends BENCH_NET_BYTES (default 1 GiB)
#      with a Node client to 127.0.0.1:HOSTPORT and directly to the container's IP:80, alternated,
#      BENCH_NET_REPS times (default 5); median MB/s and the ratio published/direct. For berth
#      (nftables DNAT in the kernel; goal >= 0.9), dockerd (its userland proxy serves 127.0.0.1)
#      and podman, for comparison.
# BENCH_TOOLS (default "berth podman docker") selects the engines: without berth, only the peers'
# figures (berth's staging daemon still makes the image).
# Traffic goes only to 127.0.0.0/8 and to the containers this script made. What the peers add to
# the host's network is removed at the end: docker0 and podman0 (refused at the start if either
# exists), docker's DOCKER* and netavark's NETAVARK* iptables chains and the rules that use them
# (refused at the start if any such chain exists), and the bridge-nf-call sysctls dockerd sets are
# put back; berthd runs with a bridge and an nftables table of its own (BENCH_BERTH_BRIDGE,
# default berthbench0; BENCH_BERTH_TABLE, default berth_bench; refused if they exist), removed at
# the end as `berth system reset` would.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
ROOT="$(bench_repo_root)"

N="${BENCH_N:-10}"
WARMUP="${BENCH_WARMUP:-1}"
FS_MODES="${BENCH_FS:-both}"
TOOLS="${BENCH_TOOLS:-berth podman docker}"
NET_BYTES="${BENCH_NET_BYTES:-1073741824}"
NET_REPS="${BENCH_NET_REPS:-5}"
BERTH_JS="${BENCH_BERTH:-$ROOT/dist/berth.js}"
BERTHD_JS="${BENCH_BERTHD:-$ROOT/dist/berthd.js}"
BRIDGE="${BENCH_BERTH_BRIDGE:-berthbench0}"
TABLE="${BENCH_BERTH_TABLE:-berth_bench}"
DOCKER_BIN=/usr/bin/docker # the 20.10 client (another one may be first on PATH)

case "$FS_MODES" in
  root | fresh) ;;
  both) FS_MODES="root fresh" ;;
  *) echo "network: BENCH_FS=$FS_MODES: want root, fresh or both" >&2; exit 2 ;;
esac
for v in N WARMUP NET_BYTES NET_REPS; do
  if ! [[ "${!v}" =~ ^[0-9]+$ ]] || { [[ $v != WARMUP ]] && ((${!v} < 1)); }; then
    echo "network: BENCH_$v=${!v}: want a whole number (at least 1, but for WARMUP)" >&2; exit 2
  fi
done
declare -A USE=()
for t in $TOOLS; do
  case "$t" in berth | podman | docker) USE[$t]=1 ;; *) echo "network: BENCH_TOOLS: unknown tool $t (berth, podman, docker)" >&2; exit 2 ;; esac
done
has() { [[ -n "${USE[$1]:-}" ]]; }
missing=()
[[ -f "$BERTH_JS" && -f "$BERTHD_JS" ]] || missing+=("$BERTH_JS / $BERTHD_JS (npm run build)")
[[ -x "$ROOT/native/build/berth-init" && -x "$ROOT/native/build/berth-monitor" ]] || missing+=("native/build (make -C native)")
for c in podman dockerd docker-registry curl nft ip iptables; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
[[ -x "$DOCKER_BIN" ]] || missing+=("$DOCKER_BIN")
if ((${#missing[@]})); then
  echo "network: missing: ${missing[*]}" >&2
  echo "  (apt-get install -y podman conmon crun netavark docker.io docker-registry curl nftables iptables)" >&2
  exit 1
fi
# berth's bridge networking came with the daemon.json keys naming its bridge and table
if has berth && ! grep -qs "nftables-table" "$BERTHD_JS" "${BERTHD_JS%.js}.cjs"; then
  echo "network: $BERTHD_JS has no bridge networking yet (no 'nftables-table' key); run with BENCH_TOOLS=\"podman docker\" for the peers only" >&2
  exit 1
fi

# --- what the peers would collide with: refuse rather than touch what others made -------------
refuse=()
for l in docker0 podman0 "$BRIDGE"; do ip link show "$l" >/dev/null 2>&1 && refuse+=("link $l exists"); done
nft list table inet "$TABLE" >/dev/null 2>&1 && refuse+=("nftables table inet $TABLE exists")
for x in iptables ip6tables; do
  c="$(bench_xtables_chains "$x" '^(DOCKER|NETAVARK|CNI-)' | tr '\n' ' ')"
  [[ -z "$c" ]] || refuse+=("$x chains exist: $c")
done
if ((${#refuse[@]})); then
  echo "network: the host already has what this benchmark's engines would make (another engine runs?):" >&2
  printf '  %s\n' "${refuse[@]}" >&2
  exit 1
fi

bench_setup network
set -E # an unexpected failure says where, then the clean-up runs
trap 'echo "network: failed (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
export DOCKER_CONFIG="$BENCH_DIR/docker-config"
mkdir -p "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json"
export CONTAINERS_CONF="$BENCH_DIR/containers.conf"
cat >"$CONTAINERS_CONF" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_config_dir = "$BENCH_DIR/podman-networks"
EOF
echo '{}' >"$BENCH_DIR/dockerd.json" # not the host's /etc/docker/daemon.json
printf '{"bridge": "%s", "nftables-table": "%s"}\n' "$BRIDGE" "$TABLE" >"$BENCH_DIR/berthd.json"
# the staging daemon (import and push only) gets the same bridge and table where berthd knows the keys
if grep -qs "nftables-table" "$BERTHD_JS" "${BERTHD_JS%.js}.cjs"; then cp "$BENCH_DIR/berthd.json" "$BENCH_DIR/berthd-stage.json"; else echo '{}' >"$BENCH_DIR/berthd-stage.json"; fi

# --- the host's state before, put back or checked at the end ---------------------------------
CG_PARENTS=(docker libpod_parent berth)
HOST_PATHS=(/run/crun /run/containerd /run/docker /run/libpod /run/containers /var/lib/containers /etc/containers/networks
  /var/lib/cni /etc/cni /etc/docker/key.json /var/lib/docker /run/docker.sock /run/berth /var/lib/berth /run/netns)
declare -A CG_BEFORE=() PATH_BEFORE=() SYSCTL_BEFORE=()
for h in /sys/fs/cgroup/*/; do
  for p in "${CG_PARENTS[@]}"; do [[ -d "$h$p" ]] && CG_BEFORE["$h$p"]=1; done
done
for p in "${HOST_PATHS[@]}"; do [[ -e "$p" ]] && PATH_BEFORE["$p"]=1; done
SYSCTLS=(/proc/sys/net/ipv4/ip_forward /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables)
for s in "${SYSCTLS[@]}"; do [[ -e "$s" ]] && SYSCTL_BEFORE[$s]="$(cat "$s")"; done
NET_BEFORE="$(ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | tr '\n' ' ')"
NFT_BEFORE="$(nft list tables | sort | tr '\n' ';')" # for the empty iptables-nft tables the peers may make

REGISTRY_PID="" BERTHD_PID="" DOCKERD_PID=""
FS_MOUNT="" DATA="" RUNR="" PHASE=""

BS="" # berthd's socket
berth() { node "$BERTH_JS" -H "unix://$BS" "$@"; }
dockerb() { "$DOCKER_BIN" -H "unix://$BS" "$@"; }                  # docker CLI -> berthd
dockerd_cli() { "$DOCKER_BIN" -H "unix://$RUNR/docker.sock" "$@"; } # docker CLI -> dockerd
PODMAN=()
podman_() { podman "${PODMAN[@]}" "$@"; }
start_berthd() { # start_berthd DATA RUN CONFIG
  BS="$2/berth/berth.sock"
  setsid node "$BERTHD_JS" --data-root "$1/berth" --exec-root "$2/berth" -H "unix://$BS" --config-file "$3" \
    </dev/null >>"$BENCH_DIR/berthd.log" 2>&1 &
  BERTHD_PID=$!
  disown "$BERTHD_PID"
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf --unix-socket "$BS" http://berthd/_ping >/dev/null 2>&1 && return 0
    kill -0 "$BERTHD_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "network: berthd did not start; the end of its log:" >&2
  tail -n 5 "$BENCH_DIR/berthd.log" >&2
  return 1
}
start_dockerd() { # start_dockerd DATA RUN: docker's default networking (docker0, iptables, userland proxy)
  setsid dockerd --config-file "$BENCH_DIR/dockerd.json" --data-root "$1/docker" --exec-root "$2/docker" \
    --pidfile "$2/docker.pid" -H "unix://$2/docker.sock" --storage-driver overlay2 \
    </dev/null >>"$BENCH_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  disown "$DOCKERD_PID"
  local i
  for ((i = 0; i < 600; i++)); do
    dockerd_cli version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "network: dockerd did not start; the end of its log:" >&2
  tail -n 5 "$BENCH_DIR/dockerd.log" >&2
  return 1
}

remove_all_containers() {
  local ids
  if [[ -n "$BS" && -n "$BERTHD_PID" ]] && kill -0 "$BERTHD_PID" 2>/dev/null; then
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

end_phase() {
  [[ -n "$PHASE" ]] || return 0
  remove_all_containers
  bench_stop_pid "$BERTHD_PID"; BERTHD_PID=""
  bench_stop_pid "$DOCKERD_PID" 30; DOCKERD_PID=""
  local m
  for m in $(findmnt -rn -o TARGET | grep "^$BENCH_DIR/." | grep -v "^$FS_MOUNT\$" | sort -r || true); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  if [[ -n "$FS_MOUNT" ]]; then
    umount "$FS_MOUNT" 2>/dev/null || umount -l "$FS_MOUNT" || true
    rm -f "$BENCH_DIR/fresh.img"
    rmdir "$FS_MOUNT" 2>/dev/null || true
  elif [[ -n "$DATA" ]]; then
    rm -rf "$DATA" "$RUNR"
  fi
  FS_MOUNT="" DATA="" RUNR="" BS="" PODMAN=() PHASE=""
}

# What the engines made of the host's network (all checked absent at the start), then the rest of
# what they leave: parent cgroups and host paths absent before.
remove_host_leftovers() {
  local l x s h p d removed
  for l in docker0 podman0 "$BRIDGE"; do ip link del "$l" 2>/dev/null || true; done
  nft delete table inet "$TABLE" 2>/dev/null || true
  for x in iptables ip6tables; do
    removed="$(bench_xtables_remove "$x" '^(DOCKER|NETAVARK|CNI-)' '^(docker0|podman0)$' || true)"
    [[ -z "$removed" ]] || echo "$removed" | sed "s/^/$x /" >>"$BENCH_DIR/xtables-removed.log"
  done
  # iptables-nft makes "table ip filter" / "table ip nat" on first use: empty ones that were not
  # there before go too
  local fam tbl
  while read -r _ fam tbl; do
    grep -q "table $fam $tbl;" <<<"$NFT_BEFORE" && continue
    [[ "$fam" == ip || "$fam" == ip6 ]] && [[ "$tbl" == filter || "$tbl" == nat ]] || continue
    # rules are the lines with a handle that declare neither the table nor a chain
    nft -a list table "$fam" "$tbl" 2>/dev/null | grep -vE '^\s*(table|chain) ' | grep -q '# handle' ||
      nft delete table "$fam" "$tbl" 2>/dev/null || true
  done < <(nft list tables)
  [[ -s "$BENCH_DIR/xtables-removed.log" ]] && echo "network: removed the peers' iptables rules and chains ($(wc -l <"$BENCH_DIR/xtables-removed.log") of them)" >&2
  for s in "${!SYSCTL_BEFORE[@]}"; do
    if [[ "$(cat "$s")" != "${SYSCTL_BEFORE[$s]}" ]]; then
      if [[ $s == */ip_forward ]]; then
        echo "network: WARNING: $s was ${SYSCTL_BEFORE[$s]}, is $(cat "$s") (berthd and dockerd turn it on; left on, others' daemons may rely on it)" >&2
      else
        echo "${SYSCTL_BEFORE[$s]}" >"$s"
      fi
    fi
  done
  for h in /sys/fs/cgroup/*/; do
    [[ "$h" == /sys/fs/cgroup/hugetlb/ ]] && ((BENCH_HUGETLB_MOUNTED)) && continue
    for p in "${CG_PARENTS[@]}"; do
      d="$h$p"
      [[ -d "$d" && -z "${CG_BEFORE[$d]:-}" ]] || continue
      if [[ $p == berth ]]; then rmdir "$d" 2>/dev/null || true
      else find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
  done
  for p in "${HOST_PATHS[@]}"; do
    [[ -e "$p" && -z "${PATH_BEFORE[$p]:-}" ]] || continue
    if [[ "$p" == /run/crun || "$p" == /run/netns ]]; then rmdir "$p" 2>/dev/null || true
    elif [[ -d "$p" ]] && findmnt -rn -o TARGET | grep -q "^$p"; then echo "network: WARNING: $p has mounts; left" >&2
    else rm -rf "$p"; fi
  done
  # only what this run's engines would have made: others' tests make links and tables meanwhile
  local net left=()
  net=" $(ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | tr '\n' ' ')"
  for l in docker0 podman0 "$BRIDGE"; do [[ "$net" == *" $l "* ]] && left+=("link $l"); done
  for l in $net; do [[ "$l" == veth* && " $NET_BEFORE " != *" $l "* ]] && left+=("link $l (docker's or netavark's host end)"); done
  nft list table inet "$TABLE" >/dev/null 2>&1 && left+=("nftables table inet $TABLE")
  for x in iptables ip6tables; do
    for l in $(bench_xtables_chains "$x" '^(DOCKER|NETAVARK|CNI-)' | awk '{ print $1 "/" $2 }'); do left+=("$x chain $l"); done
  done
  if ((${#left[@]})); then
    echo "network: WARNING: left on the host:" >&2
    printf '  %s\n' "${left[@]}" >&2
  fi
}

hugetlb_release() {
  ((BENCH_HUGETLB_MOUNTED)) || return 0
  local h=/sys/fs/cgroup/hugetlb i p
  for ((i = 0; i < 600; i++)); do
    for p in "${CG_PARENTS[@]}"; do
      [[ -d "$h/$p" ]] || continue
      if [[ $p == berth ]]; then rmdir "$h/$p" 2>/dev/null; else find "$h/$p" -depth -type d -exec rmdir {} + 2>/dev/null; fi
    done
    [[ "$(bench_hugetlb_cgroups)" == 1 ]] && break
    sleep 0.05
  done
  if [[ -n "$(find "$h" -mindepth 1 -type d 2>/dev/null)" ]]; then
    echo "network: WARNING: leaving the v1 hugetlb hierarchy mounted (others' containers joined it); once they are gone: umount $h && rmdir $h" >&2
    BENCH_HUGETLB_MOUNTED=0 BENCH_HUGETLB_MKDIR=0
  fi
}

cleanup_all() {
  local rc=$?
  set +e
  trap '' INT TERM
  trap - ERR
  end_phase
  bench_stop_pid "$REGISTRY_PID"; REGISTRY_PID=""
  remove_host_leftovers
  hugetlb_release
  (exit "$rc")
  bench_cleanup
}
trap cleanup_all EXIT

if ! bench_hugetlb_mount; then
  echo "network: could not mount a v1 hugetlb hierarchy (crun, so podman, needs it on hybrid cgroups)" >&2
  exit 1
fi

# --- the clients the script runs with node ----------------------------------------------------
# netphases.mjs SOCKET IMAGE ROUNDS HOSTPORT: alternately `true` with --network none and with
# -p HOSTPORT:80 on the bridge, by the API (create, start, wait, explain, delete); prints one line a
# round: `none|bridge CREATE_TO_EXEC_MS PHASE=MS ...` (the start phases), or `error MESSAGE`.
cat >"$BENCH_DIR/netphases.mjs" <<'EOF'
import http from 'node:http';
const [socketPath, image, rounds, hostPort] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const call = (method, path, body) => new Promise((resolve, reject) => {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const req = http.request({ socketPath, agent, method, path: `/v1.41${path}`,
    headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.trim()}`));
      else resolve(text ? JSON.parse(text) : null);
    });
  });
  req.on('error', reject);
  req.end(data);
});
const bodyOf = (mode) => mode === 'none'
  ? { Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }
  : { Image: image, Cmd: ['true'], ExposedPorts: { '80/tcp': {} },
      HostConfig: { NetworkMode: 'default', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: hostPort }] } } };
async function one(mode) {
  const { Id: id } = await call('POST', '/containers/create', bodyOf(mode));
  try {
    await call('POST', `/containers/${id}/start`);
    await call('POST', `/containers/${id}/wait`);
    const s = (await call('GET', `/containers/${id}/explain`)).startup ?? {};
    if (typeof s.createToExecMs !== 'number') throw new Error(`explain ${id}: no startup.createToExecMs in ${JSON.stringify(s)}`);
    const phases = [...(s.create ?? []).map((p) => [`create.${p.name}`, p.ms]), ...(s.start ?? []).map((p) => [`start.${p.name}`, p.ms])];
    return `${mode} ${s.createToExecMs} ${phases.map(([n, ms]) => `${n}=${ms}`).join(' ')}`;
  } finally {
    await call('DELETE', `/containers/${id}?force=1`).catch(() => {});
  }
}
for (let i = 0; i < Number(rounds); i++) {
  for (const mode of ['none', 'bridge']) {
    const line = await one(mode).catch((e) => `error ${String(e.message).replace(/\s+/g, ' ')}`);
    process.stdout.write(`${line}\n`);
  }
}
agent.destroy();
EOF
# tcpsend.mjs HOST PORT BYTES: connects (retrying while the sink restarts), sends BYTES, half-closes,
# waits for the sink to close; prints MB/s (10^6 bytes) from the connect to the close.
cat >"$BENCH_DIR/tcpsend.mjs" <<'EOF'
import net from 'node:net';
const [host, port, total] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const chunk = Buffer.alloc(1 << 20, 0x61);
const attempt = () => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint();
  let sent = 0;
  const s = net.connect({ host, port });
  s.on('error', reject);
  s.on('connect', () => {
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  s.resume(); // the sink sends nothing; its close ends the transfer
  s.on('close', (hadError) => {
    if (hadError) return;
    if (sent < total) return reject(new Error(`closed after ${sent} of ${total} bytes`));
    resolve(Number(process.hrtime.bigint() - t0) / 1e9);
  });
});
const deadline = Date.now() + 10_000;
for (;;) {
  try {
    const s = await attempt();
    console.log((total / s / 1e6).toFixed(1));
    break;
  } catch (e) {
    if (Date.now() > deadline) { console.error(`${host}:${port}: ${e.message}`); process.exit(1); }
    await new Promise((r) => setTimeout(r, 100));
  }
}
EOF

# --- the image: busybox-static rootfs -> berth import -> push to a registry on 127.0.0.1 --------
echo "network: building the busybox image ..." >&2
bench_make_bundle "$BENCH_DIR/bundle" /bin/true
tar -C "$BENCH_DIR/bundle/rootfs" -cf "$BENCH_DIR/rootfs.tar" .
REG="127.0.0.1:$(bench_free_port)"
IMAGE="$REG/bench/busybox:latest"
bench_start_registry "$BENCH_DIR/registry" "$REG" # sets REGISTRY_PID

PHASE=stage DATA="$BENCH_DIR/stage" RUNR="$BENCH_DIR/stage-run"
mkdir -p "$RUNR"
start_berthd "$DATA" "$RUNR" "$BENCH_DIR/berthd-stage.json"
berth import -c 'CMD ["/bin/sh"]' "$BENCH_DIR/rootfs.tar" "$IMAGE" >/dev/null
berth push -q "$IMAGE" >/dev/null
end_phase

# --- report helpers ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }
goal_le() { # goal_le TEXT A B FACTOR UNIT: A <= FACTOR x B
  awk -v t="$1" -v a="$2" -v b="$3" -v f="$4" 'BEGIN {
    if (a == "nan" || b == "nan" || a == "" || b == "") { printf "goal: %s: not checked (no figures)\n", t; exit }
    printf "goal: %s: %.1f ms <= %s x %.1f ms = %.1f ms: %s\n", t, a / 1000, f, b / 1000, f * b / 1000, (a <= f * b) ? "MET" : "NOT MET"
  }'
}
status_of() { (($1 == 0)) && echo ok || echo "failed $1 of $2"; }

# --- one run of each (errors to $BENCH_DIR/TOOL.err) ------------------------------------------
declare -A HPORT=()
run_berth() { berth run --rm -p "${HPORT[berth]}:80" "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/berth.err"; }
run_dockerb() { dockerb run --rm -p "${HPORT[dockerb]}:80" "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/dockerb.err"; }
run_podman() { podman_ run --rm -p "${HPORT[podman]}:80" "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/podman.err"; }
run_docker() { dockerd_cli run --rm -p "${HPORT[docker]}:80" "$IMAGE" true </dev/null >/dev/null 2>>"$BENCH_DIR/docker.err"; }

# throughput TOOL CLI...: a sink published on 127.0.0.1:PORT; NET_REPS alternated transfers to it
# and to the container's address; "PUBLISHED_MBPS DIRECT_MBPS IP" (medians), or "nan nan -"
# busybox nc serves every connection (-ll) with dd reading 1 MiB at a time (a plain `nc -l` ends
# the connection when its stdin, /dev/null, ends; wc -c reads 4 KiB at a time and became the limit)
SINK=(nc -ll -p 80 -e dd of=/dev/null bs=1M)
throughput() {
  local t="$1"; shift
  local port id ip r pub dir
  port="$(bench_free_port)"
  id="$("$@" run -d -p "127.0.0.1:$port:80" "$IMAGE" "${SINK[@]}" 2>>"$BENCH_DIR/$t-tcp.err")" || { echo "nan nan -"; return 0; }
  ip="$("$@" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$id" 2>>"$BENCH_DIR/$t-tcp.err" | awk '{ print $1 }')"
  : >"$BENCH_DIR/$t-pub.mbps"; : >"$BENCH_DIR/$t-dir.mbps"
  if [[ -n "$ip" ]]; then
    for ((r = 1; r <= NET_REPS; r++)); do
      node "$BENCH_DIR/tcpsend.mjs" 127.0.0.1 "$port" "$NET_BYTES" >>"$BENCH_DIR/$t-pub.mbps" 2>>"$BENCH_DIR/$t-tcp.err" || true
      node "$BENCH_DIR/tcpsend.mjs" "$ip" 80 "$NET_BYTES" >>"$BENCH_DIR/$t-dir.mbps" 2>>"$BENCH_DIR/$t-tcp.err" || true
    done
  else
    echo "$t: no container address" >>"$BENCH_DIR/$t-tcp.err"
  fi
  "$@" kill "$id" >/dev/null 2>>"$BENCH_DIR/$t-tcp.err" || true # nc as pid 1 ignores SIGTERM
  "$@" rm -f "$id" >/dev/null 2>>"$BENCH_DIR/$t-tcp.err" || true
  pub="$(bench_median <"$BENCH_DIR/$t-pub.mbps")"; dir="$(bench_median <"$BENCH_DIR/$t-dir.mbps")"
  echo "$pub $dir ${ip:--}"
}

# --- one data location ------------------------------------------------------------------------
run_phase() {
  local fs="$1" label
  PHASE="$fs"
  if [[ "$fs" == fresh ]]; then
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
  local tools=() t
  if has berth; then start_berthd "$DATA" "$RUNR" "$BENCH_DIR/berthd.json"; tools+=(berth dockerb); fi
  if has podman; then tools+=(podman); fi
  if has docker; then start_dockerd "$DATA" "$RUNR"; tools+=(docker); fi
  for t in "${tools[@]}"; do HPORT[$t]="$(bench_free_port)"; : >"$BENCH_DIR/$t.err"; : >"$BENCH_DIR/$t.us"; done

  echo "network [$fs]: pulling $IMAGE with each tool (untimed) ..." >&2
  if has berth; then berth pull -q "$IMAGE" >/dev/null; fi
  if has podman; then podman_ pull -q --tls-verify=false "$IMAGE" >/dev/null; fi
  if has docker; then dockerd_cli pull -q "$IMAGE" >/dev/null; fi
  local podman_net="-"
  if has podman; then
    podman_net="$(podman_ info --format '{{.Host.NetworkBackend}}' 2>/dev/null || echo '?')"
    podman_net+=", network $(podman_ network ls --format '{{.Name}} ({{.Driver}})' 2>/dev/null | head -n1)"
  fi

  # --- 1: run --rm -p on the default bridge, interleaved rounds -------------------------------
  echo "network [$fs]: ${tools[*]}: run --rm -p PORT:80, $N rounds (+$WARMUP warm-up) ..." >&2
  local i t0 t1
  declare -A fails=() med=() mn=() mx=()
  for t in "${tools[@]}"; do fails[$t]=0; done
  for ((i = 1; i <= WARMUP + N; i++)); do
    for t in "${tools[@]}"; do
      t0="${EPOCHREALTIME/./}"
      if "run_$t" "$i"; then
        t1="${EPOCHREALTIME/./}"
        ((i > WARMUP)) && echo $((t1 - t0)) >>"$BENCH_DIR/$t.us"
      else
        fails[$t]=$((fails[$t] + 1))
      fi
    done
  done
  for t in "${tools[@]}"; do
    med[$t]="$(bench_median <"$BENCH_DIR/$t.us")"; mn[$t]="$(bench_min <"$BENCH_DIR/$t.us")"; mx[$t]="$(bench_max <"$BENCH_DIR/$t.us")"
  done

  # --- 2: the bridge's share of a berth start, from explain -----------------------------------
  local phases_out="$BENCH_DIR/phases.txt"
  : >"$phases_out"
  if has berth; then
    echo "network [$fs]: berthd create+start, --network none vs bridge with -p, $N rounds each (explain) ..." >&2
    node "$BENCH_DIR/netphases.mjs" "$BS" "$IMAGE" "$((WARMUP + N))" "$(bench_free_port)" >"$BENCH_DIR/phases.raw" 2>>"$BENCH_DIR/phases.err" || true
    # drop the warm-up rounds (two lines each), then the medians of each figure per mode
    tail -n +"$((2 * WARMUP + 1))" "$BENCH_DIR/phases.raw" | awk -v out="$phases_out" '
      $1 == "error" { errors++; print > "/dev/stderr"; next }
      { mode = $1; n[mode]++; v[mode, "createToExec", n[mode]] = $2; names["createToExec"] = 1
        for (i = 3; i <= NF; i++) { split($i, kv, "="); names[kv[1]] = 1; v[mode, kv[1], n[mode]] = kv[2]; has[mode, kv[1]] = 1 } }
      function median(mode, name,   k, c, a, j, t) {
        c = 0; for (k = 1; k <= n[mode]; k++) if ((mode, name, k) in v) a[++c] = v[mode, name, k]
        if (c == 0) return "-"
        for (k = 2; k <= c; k++) { t = a[k]; for (j = k - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
      }
      END {
        for (name in names) printf "%s %s %s\n", name, median("none", name), median("bridge", name) > out
        if (errors) printf "%d rounds failed\n", errors > "/dev/stderr"
      }' 2>>"$BENCH_DIR/phases.err"
  fi

  # --- 3: TCP throughput on loopback, published vs direct --------------------------------------
  local -A tput=()
  local tt
  for tt in berth podman docker; do
    has "$tt" || continue
    echo "network [$fs]: $tt: TCP throughput, $NET_REPS x $NET_BYTES bytes to 127.0.0.1:PORT and to the container ..." >&2
    case "$tt" in
      berth) tput[$tt]="$(throughput berth "$DOCKER_BIN" -H "unix://$BS")" ;;
      podman) tput[$tt]="$(throughput podman podman "${PODMAN[@]}")" ;;
      docker) tput[$tt]="$(throughput docker "$DOCKER_BIN" -H "unix://$RUNR/docker.sock")" ;;
    esac
  done

  # --- report for this location -------------------------------------------------------------
  echo
  echo "=== network on $label: $IMAGE (busybox-static), $(nproc) cores, $(date -u +%FT%TZ)"
  echo "    berthd: bridge $BRIDGE, table inet $TABLE; podman: $podman_net; dockerd: docker0, iptables, userland proxy (its defaults)"
  echo
  echo "1. run --rm -p HOSTPORT:80 IMAGE true on the default bridge: $N rounds (after $WARMUP warm-up), wall clock"
  printf '%-26s %10s %10s %10s %9s %9s  %s\n' "client -> engine" "median ms" "min ms" "max ms" "/podman" "/docker" status
  local -A NAME=([berth]="berth -> berthd" [dockerb]="docker CLI -> berthd" [podman]="podman" [docker]="docker CLI -> dockerd")
  for t in "${tools[@]}"; do
    printf '%-26s %10s %10s %10s %9s %9s  %s\n' "${NAME[$t]}" "$(bench_ms "${med[$t]}")" "$(bench_ms "${mn[$t]}")" "$(bench_ms "${mx[$t]}")" \
      "$(ratio "${med[$t]}" "${med[podman]:-}")" "$(ratio "${med[$t]}" "${med[docker]:-}")" "$(status_of "${fails[$t]}" $((WARMUP + N)))"
  done
  if has berth; then
    echo
    echo "2. berthd create+start of true (API, engine clocks from explain), medians ms of $N rounds each, alternated"
    printf '   %-34s %12s %12s %10s\n' figure "--network none" "bridge + -p" difference
    if [[ -s "$phases_out" ]]; then
      sort -k1,1 "$phases_out" | awk '{ printf "   %-34s %12s %12s %10s\n", $1, $2, $3, ($2 == "-" || $3 == "-") ? "-" : sprintf("%+.2f", $3 - $2) }'
    else
      echo "   (no figures)"
    fi
  fi
  echo
  echo "3. TCP throughput on loopback, $NET_BYTES bytes per transfer, median of $NET_REPS, MB/s"
  printf '   %-26s %16s %16s %12s  %s\n' engine "127.0.0.1:PORT" "container IP:80" "pub/direct" "path to 127.0.0.1"
  local -A PATHS=([berth]="nftables DNAT (kernel)" [podman]="netavark's iptables DNAT" [docker]="docker-proxy (userland)")
  local pub dir ip
  for tt in berth podman docker; do
    has "$tt" || continue
    read -r pub dir ip <<<"${tput[$tt]}"
    printf '   %-26s %16s %16s %12s  %s\n' "$tt ($ip)" "$pub" "$dir" "$(awk -v a="$pub" -v b="$dir" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2f", a / b }')" "${PATHS[$tt]}"
  done
  echo
  if has berth && has podman && ((fails[berth] == 0 && fails[podman] == 0)); then goal_le "1. berth run --rm -p <= 0.3 x podman" "${med[berth]}" "${med[podman]}" 0.3; fi
  if has berth && has docker && ((fails[berth] == 0 && fails[docker] == 0)); then goal_le "1. berth run --rm -p <= 0.3 x docker" "${med[berth]}" "${med[docker]}" 0.3; fi
  if has berth && has docker && ((fails[dockerb] == 0 && fails[docker] == 0)); then goal_le "1. docker CLI -> berthd <= 0.3 x docker CLI -> dockerd" "${med[dockerb]}" "${med[docker]}" 0.3; fi
  if has berth; then
    awk '$1 == "createToExec" { if ($2 == "-" || $3 == "-") print "goal: 2. the bridge adds <= 5 ms to a start: not checked (no figures)";
      else printf "goal: 2. the bridge adds <= 5 ms to a start: %+.2f ms: %s\n", $3 - $2, ($3 - $2 <= 5) ? "MET" : "NOT MET" }' "$phases_out"
    read -r pub dir ip <<<"${tput[berth]}"
    awk -v a="$pub" -v b="$dir" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "goal: 3. published >= 0.9 x direct: not checked (no figures)";
      else printf "goal: 3. published >= 0.9 x direct: %.1f / %.1f MB/s = %.2f: %s\n", a, b, a / b, (a >= 0.9 * b) ? "MET" : "NOT MET" }'
  fi
  local st
  for st in berth dockerb podman docker phases berth-tcp podman-tcp docker-tcp; do
    if [[ -s "$BENCH_DIR/$st.err" ]]; then
      echo "network [$fs]: $st stderr (first lines):" >&2
      head -n 5 "$BENCH_DIR/$st.err" | sed 's/^/  /' >&2
    fi
    rm -f "$BENCH_DIR/$st.err"
  done
  end_phase
}

for fs in $FS_MODES; do run_phase "$fs"; done
