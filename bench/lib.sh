# Helpers for berth's benchmark scripts (source this file; needs bash 5).
#   bench_repo_root              absolute path of the repo
#   bench_now_us                 wall clock in microseconds (no fork)
#   bench_median / bench_min / bench_max   of numbers on stdin, one a line
#   bench_make_bundle DIR [ARG...]         busybox bundle with the tests' default config
#   bench_hugetlb_mount / bench_hugetlb_umount   v1 hugetlb hierarchy for crun (see below)
#   bench_time_loop NAME N WARMUP FUNC     runs "FUNC ITER" WARMUP+N times, times each;
#                                          writes µs samples to $BENCH_DIR/NAME.us and
#                                          returns non-zero if any run failed
#   bench_setup NAME             root check, $BENCH_DIR, RT_CMD and the clean-up on exit
#   bench_delete_if_left RT ID ERRFILE     `delete -f` a container whose state remains
#   bench_warn_left_cgroups PREFIX         warns about cgroups named PREFIX-* left behind
#   bench_start_registry DIR ADDR          docker-registry on ADDR storing under DIR (REGISTRY_PID)
#   bench_stop_pid PID [SECONDS]           SIGTERM, SIGKILL after SECONDS, reaped

bench_repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

bench_now_us() {
  local t="$EPOCHREALTIME"
  printf '%s\n' "${t/./}"
}

bench_median() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
  }'
}
bench_min() { sort -n | awk 'NR == 1 { v = $1 } END { print (NR ? v : "nan") }'; }
bench_max() { sort -n | awk '{ v = $1 } END { print (NR ? v : "nan") }'; }

# µs -> ms with one decimal.
bench_ms() { awk -v us="$1" 'BEGIN { if (us == "nan") print "nan"; else printf "%.1f\n", us / 1000 }'; }

# bench_make_bundle DIR [ARG...]: rootfs from test/fixtures/busybox.ts (cached
# busybox-static rootfs) and config.json = runc 1.1's `runc spec` with
# terminal false; args default to /bin/true.
bench_make_bundle() {
  local dir="$1"; shift
  local root; root="$(bench_repo_root)"
  local args_json; args_json="$(node -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)))' -- "$@")"
  (cd "$root" && BENCH_BUNDLE_DIR="$dir" BENCH_ARGS="$args_json" node --import tsx --input-type=module -e '
    const { makeBundle } = await import(process.cwd() + "/test/fixtures/busybox.ts");
    const args = JSON.parse(process.env.BENCH_ARGS);
    await makeBundle({ dir: process.env.BENCH_BUNDLE_DIR, ...(args.length ? { args } : {}) });
  ')
}

# crun 1.8 refuses this machine's hybrid cgroup layout (hugetlb shows up as a
# cgroup2 controller) unless a v1 hugetlb hierarchy is mounted. Mount one only
# if none is, and remember that we did, so that bench_hugetlb_umount undoes
# exactly what bench_hugetlb_mount did.
BENCH_HUGETLB_MOUNTED=0
BENCH_HUGETLB_MKDIR=0
bench_hugetlb_present() {
  awk '$3 == "cgroup" && $4 ~ /(^|,)hugetlb(,|$)/ { found = 1 } END { exit !found }' /proc/self/mounts
}
bench_hugetlb_mount() {
  if bench_hugetlb_present; then return 0; fi
  [[ -d /sys/fs/cgroup ]] || return 1
  if [[ ! -d /sys/fs/cgroup/hugetlb ]]; then
    mkdir -p /sys/fs/cgroup/hugetlb || return 1
    BENCH_HUGETLB_MKDIR=1
  fi
  if mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb; then
    BENCH_HUGETLB_MOUNTED=1
  else
    if ((BENCH_HUGETLB_MKDIR)); then rmdir /sys/fs/cgroup/hugetlb 2>/dev/null || true; BENCH_HUGETLB_MKDIR=0; fi
    return 1
  fi
}
# A v1 hierarchy unmounted while it still has cgroups (removed ones the kernel has not freed yet
# count too) is not destroyed: it lives on unmounted and keeps hugetlb away from cgroup2 until it
# is mounted and unmounted again. So wait until /proc/cgroups counts only its root (up to 10 s).
bench_hugetlb_cgroups() {
  awk '$1 == "hugetlb" { print $3 }' /proc/cgroups
}
bench_hugetlb_umount() {
  if ((BENCH_HUGETLB_MOUNTED)); then
    local i
    for ((i = 0; i < 200; i++)); do
      [[ "$(bench_hugetlb_cgroups)" == 1 ]] && break
      sleep 0.05
    done
    if [[ "$(bench_hugetlb_cgroups)" != 1 ]]; then
      echo "bench: the v1 hugetlb hierarchy still has $(($(bench_hugetlb_cgroups) - 1)) cgroup(s); unmounting anyway (it will linger unmounted)" >&2
    fi
    umount /sys/fs/cgroup/hugetlb && BENCH_HUGETLB_MOUNTED=0
  fi
  if ((BENCH_HUGETLB_MKDIR && !BENCH_HUGETLB_MOUNTED)); then
    rmdir /sys/fs/cgroup/hugetlb 2>/dev/null && BENCH_HUGETLB_MKDIR=0
  fi
  return 0
}

# bench_time_loop NAME N WARMUP FUNC: FUNC gets the iteration number; only FUNC's
# own run is timed (read from $EPOCHREALTIME, no fork). If BENCH_AFTER names a
# function, it is called untimed after each run with the same iteration number.
bench_time_loop() {
  local name="$1" n="$2" warm="$3" fn="$4"
  local out="$BENCH_DIR/$name.us" i t0 t1 rc fails=0
  : >"$out"
  for ((i = 1; i <= warm + n; i++)); do
    t0="${EPOCHREALTIME/./}"
    "$fn" "$i"
    rc=$?
    t1="${EPOCHREALTIME/./}"
    if [[ -n "${BENCH_AFTER:-}" ]]; then "$BENCH_AFTER" "$i"; fi
    if ((rc != 0)); then
      fails=$((fails + 1))
      continue
    fi
    if ((i > warm)); then echo $((t1 - t0)) >>"$out"; fi
  done
  if ((fails)); then
    printf 'bench: %s: %d of %d runs failed\n' "$name" "$fails" $((warm + n)) >&2
    return 1
  fi
  return 0
}

# bench_setup NAME: exits unless root; makes $BENCH_DIR (exported) and the global RT_CMD (runtime
# name -> argv prefix, for the runtimes whose state may need cleaning up); on exit, undoes
# bench_hugetlb_mount, deletes the containers left in $BENCH_DIR/root-<runtime> and removes
# $BENCH_DIR (unless something is still mounted under it). NAME prefixes the messages.
bench_setup() {
  BENCH_NAME="$1"
  if [[ $EUID -ne 0 ]]; then
    echo "$BENCH_NAME: needs root (runtimes create namespaces and cgroups)" >&2
    exit 1
  fi
  BENCH_DIR="$(mktemp -d /var/tmp/berth-bench-XXXXXX)"
  export BENCH_DIR
  declare -gA RT_CMD=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
bench_cleanup() {
  local rc=$?
  set +e
  bench_hugetlb_umount
  local name dir id
  for name in "${!RT_CMD[@]}"; do
    dir="$BENCH_DIR/root-$name"
    [[ -d "$dir" ]] || continue
    for id in $(ls -A "$dir" 2>/dev/null); do
      # shellcheck disable=SC2086
      ${RT_CMD[$name]} --root "$dir" delete -f "$id" >/dev/null 2>&1
    done
  done
  if grep -q " ${BENCH_DIR}[/ ]" /proc/self/mountinfo; then
    echo "$BENCH_NAME: mounts left under $BENCH_DIR; not removing it" >&2
  else
    rm -rf "$BENCH_DIR"
  fi
  exit "$rc"
}

# bench_delete_if_left RT ID ERRFILE: `run` (not detached) normally removes the container; delete
# it with runtime RT (--root $BENCH_DIR/root-RT) if its state remains, errors to ERRFILE.
bench_delete_if_left() {
  local name="$1" id="$2" err="$3" dir="$BENCH_DIR/root-$1"
  if [[ -e "$dir/$id" ]]; then
    # shellcheck disable=SC2086
    ${RT_CMD[$name]} --root "$dir" delete -f "$id" >/dev/null 2>>"$err" || true
  fi
}

# bench_warn_left_cgroups PREFIX: leftovers of a benchmark would be cgroups named after its
# container ids (PREFIX-*); warns about any.
bench_warn_left_cgroups() {
  local left
  left="$(find /sys/fs/cgroup -mindepth 1 -maxdepth 5 -type d -name "$1-*" 2>/dev/null || true)"
  if [[ -n "$left" ]]; then
    echo "$BENCH_NAME: WARNING: cgroups left behind by the runtimes:" >&2
    printf '%s\n' "$left" | sed 's/^/  /' >&2
  fi
}

# bench_start_registry DIR ADDR: Debian's docker-registry serving on ADDR (127.0.0.1:PORT), storing
# under DIR, in a session of its own (Ctrl-C reaches the script, not it); sets REGISTRY_PID and
# waits (up to 10 s) until it answers.
bench_start_registry() {
  local dir="$1" addr="$2"
  mkdir -p "$dir"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: $addr
EOF
  setsid docker-registry serve "$dir/config.yml" </dev/null >"$dir/log" 2>&1 &
  REGISTRY_PID=$!
  disown "$REGISTRY_PID"
  for _ in $(seq 200); do curl -fs "http://$addr/v2/" >/dev/null && break; sleep 0.05; done
}

# bench_stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 20); reaps it.
bench_stop_pid() {
  local pid="$1" t="${2:-20}" i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < t * 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# bench_free_port: a TCP port nobody listens on now on 127.0.0.1 (the kernel's pick, closed again).
bench_free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# bench_xtables_chains CMD REGEX: "TABLE CHAIN" for each user chain of iptables/ip6tables (CMD)
# in the filter and nat tables whose name matches REGEX.
bench_xtables_chains() {
  local cmd="$1" re="$2" t
  for t in filter nat; do
    "$cmd" -t "$t" -S 2>/dev/null | awk -v t="$t" -v re="$re" '$1 == "-N" && $2 ~ re { print t, $2 }'
  done
}

# bench_xtables_remove CMD REGEX IFACE_REGEX: removes, from the filter and nat tables of CMD
# (iptables or ip6tables), the user chains named by REGEX and every rule that jumps to one of them
# or names an interface matching IFACE_REGEX. For peers' rules (docker's DOCKER*, netavark's
# NETAVARK*) made during a run that checked beforehand that no such chain existed: nothing else is
# touched. Prints what it removed, one "TABLE RULE" a line.
bench_xtables_remove() {
  local cmd="$1" re="$2" ifre="$3" t line chain
  local -a args
  for t in filter nat; do
    "$cmd" -t "$t" -S >/dev/null 2>&1 || continue
    # rules of the built-in chains first (they reference the user chains), then the user chains
    while IFS= read -r line; do
      eval "args=($line)" # iptables -S quotes comments as a shell would
      "$cmd" -t "$t" -D "${args[@]:1}" 2>/dev/null && echo "$t $line"
    done < <("$cmd" -t "$t" -S 2>/dev/null | awk -v re="$re" -v ifre="$ifre" '
      $1 != "-A" { next }
      $2 ~ re { next }
      { for (i = 3; i <= NF; i++) {
          if (($i == "-j" || $i == "-g") && $(i + 1) ~ re) { print; next }
          if (($i == "-i" || $i == "-o") && $(i + 1) ~ ifre) { print; next }
      } }')
    for chain in $("$cmd" -t "$t" -S 2>/dev/null | awk -v re="$re" '$1 == "-N" && $2 ~ re { print $2 }'); do
      "$cmd" -t "$t" -F "$chain" 2>/dev/null
    done
    for chain in $("$cmd" -t "$t" -S 2>/dev/null | awk -v re="$re" '$1 == "-N" && $2 ~ re { print $2 }'); do
      "$cmd" -t "$t" -X "$chain" 2>/dev/null && echo "$t -X $chain"
    done
  done
}
