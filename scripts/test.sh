#!/usr/bin/env bash
# berth's test command (`npm test`): setup, typecheck, unit + integration tests
# with node's test runner, then a check that nothing berth made was left behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ $EUID -ne 0 ]]; then
  echo "test.sh: berth's tests need root (namespaces, mounts, cgroups); run as root, e.g. sudo npm test" >&2
  exit 1
fi

step() { printf '\n=== %s\n' "$*"; }

step "setup"
bash scripts/setup.sh

failed=()

step "typecheck: tsc --noEmit -p ."
if ! npx --no-install tsc --noEmit -p .; then
  failed+=("typecheck")
fi

shopt -s globstar nullglob
files=(test/unit/**/*.test.ts test/integration/**/*.test.ts)
shopt -u globstar nullglob

# daemons the tests start with the default settings (the CLI's autostart) make the default bridge
# berth0, as dockerd makes docker0; one that was not here before the run is removed after it
berth0_before=0
if ip link show berth0 >/dev/null 2>&1; then berth0_before=1; fi

step "tests: ${#files[@]} files"
if ((${#files[@]} == 0)); then
  echo "test.sh: no test files found under test/unit or test/integration" >&2
  failed+=("tests")
else
  # One invocation over every file, so that the runner prints one closing
  # summary (# tests / # pass / # fail ...). The outer timeout keeps a hung
  # test from eating CI's whole budget.
  test_rc=0
  timeout --kill-after=30s "${BERTH_TEST_TIMEOUT:-3600}" \
    node --import tsx --test --test-concurrency=1 \
      --test-timeout="${BERTH_TEST_CASE_TIMEOUT_MS:-600000}" \
      "${files[@]}" || test_rc=$?
  if ((test_rc != 0)); then
    if ((test_rc == 124 || test_rc == 137)); then
      echo "test.sh: the test run timed out after ${BERTH_TEST_TIMEOUT:-3600}s" >&2
    fi
    failed+=("tests")
  fi
fi

if ((berth0_before == 0)) && ip link show berth0 >/dev/null 2>&1; then
  ip link del berth0 || true
fi

step "leakcheck"
if ! bash test/leakcheck.sh; then
  failed+=("leakcheck")
fi

echo
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: typecheck, tests and leakcheck all passed"
