#!/usr/bin/env bash
# `npm test`: every test tier ava knows, with its prerequisites.
#  1. Debian tools the tests use as oracles and fixture compilers (binutils, llvm-dwarfdump-19, llvm-symbolizer-19,
#     eu-addr2line, scripts/decode_stacktrace.sh from linux-source-6.1,
#     s390x and aarch64 cross compilers, xz, zstd), installed with apt-get when missing and we may.
#  2. The real-kernel corpus (Debian 6.1 cloud-amd64), fetched and cached outside the clone when the
#     fetch script is reachable; without it the real-kernel tests are reported as skipped, by name. The
#     second architecture's (6.1 cloud-arm64, and an arm64 busybox) by scripts/fetch-debian-kernel-foreign.
#  3. The kbuild tier's kernel: Debian's linux-source-6.1 built by scripts/kbuild-kernel with contrib/kbuild's
#     patch, linked with this checkout's ksymtree (compiled once, ~20 min on 2 cores, into ~/.cache/ksymtree-kbuild;
#     relinked in ~1 min when ksymtree changes). KSYMTREE_KBUILD=0 skips it, saying so.
#  4. ava in TAP mode over every tier on the default node.
#  5. The fixture tier again on Node 22 and 24 (scripts/test-node-versions.sh; node binaries, headers and
#     node_modules cached in ~/.cache/ksymtree-node). KSYMTREE_NODE_VERSIONS="22" picks lines; "none" skips, saying so.
#  The last line is "N passed, N failed, N skipped" over all of them, for CI.
#  The fault tier (test/faults/, also `npm run test:faults`) runs small counts; KSYMTREE_FAULT_MUTANTS and
#  KSYMTREE_FAULT_KILLS raise them.
set -uo pipefail
cd "$(dirname "$0")/.."

packages=(binutils gcc llvm-19 gcc-s390x-linux-gnu gcc-aarch64-linux-gnu xz-utils zstd gzip make kmod elfutils debuginfod openssl linux-kbuild-6.1 linux-source-6.1 time qemu-system-x86 qemu-system-arm busybox-static flex bison bc libelf-dev libssl-dev)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
  echo "test: installing Debian packages: ${missing[*]}"
  install() { $sudo apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; }
  if ! install "${missing[@]}"; then
    $sudo apt-get update >/dev/null 2>&1
    # One at a time, so that a package this mirror lacks does not keep the others out.
    install "${missing[@]}" || for p in "${missing[@]}"; do
      install "$p" || echo "test: could not install $p; the tests that need it will fail or skip and say why"
    done
  fi
fi

fetch=${KSYMTREE_FETCH:-../shared/corpus/fetch-debian-kernel}
if [[ -z ${KSYMTREE_CORPUS_61:-} && -x $fetch ]]; then
  if paths=$("$fetch" cloud-amd64 6.1 2>/tmp/ksymtree-fetch.log); then
    export KSYMTREE_CORPUS_61=$(dirname "$(head -n 1 <<<"$paths")")
    echo "test: real-kernel tier uses $KSYMTREE_CORPUS_61"
    # 6.12 (.ko.xz modules) for the tests that cover it; the generic 6.1 amd64 kernel (NFC, wireless) on request.
    # The fetch script refreshes apt's lists only when the flavour's meta package is unknown; 6.12's
    # packages can be missing from lists that still know 6.1's: refresh them once and try again.
    "$fetch" cloud-amd64 6.12 >/dev/null 2>>/tmp/ksymtree-fetch.log \
      || { ${sudo:-} apt-get update >/dev/null 2>&1; "$fetch" cloud-amd64 6.12 >/dev/null 2>>/tmp/ksymtree-fetch.log; } \
      || echo "test: 6.12 corpus SKIPPED: $(tail -n 1 /tmp/ksymtree-fetch.log)"
    [[ ${KSYMTREE_E2E_GENERIC:-0} == 1 ]] && { "$fetch" amd64 6.1 >/dev/null 2>>/tmp/ksymtree-fetch.log || echo "test: 6.1 amd64 corpus SKIPPED"; }
  else
    echo "test: real-kernel tier SKIPPED: $fetch failed ($(tail -n 1 /tmp/ksymtree-fetch.log))"
  fi
elif [[ -z ${KSYMTREE_CORPUS_61:-} ]]; then
  cached=${KSYMTREE_CORPUS:-$HOME/.cache/ksymtree-corpus}/6.1-cloud-amd64
  if [[ -e $cached/debug/vmlinux ]]; then
    echo "test: real-kernel tier uses the cached corpus $cached (no fetch script at $fetch)"
  else
    echo "test: real-kernel tier SKIPPED: no corpus fetch script at $fetch (set KSYMTREE_FETCH or KSYMTREE_CORPUS_61)"
  fi
fi

# the second architecture: Debian's 6.1 cloud-arm64 kernel (and an arm64 busybox for its e2e boot)
if paths=$(scripts/fetch-debian-kernel-foreign cloud-arm64 6.1 2>/tmp/ksymtree-fetch-arm64.log); then
  echo "test: arm64 tiers use $(dirname "$(head -n 1 <<<"$paths")")"
else
  echo "test: 6.1 cloud-arm64 corpus SKIPPED: $(tail -n 1 /tmp/ksymtree-fetch-arm64.log)"
fi

for qemu in qemu-system-x86_64 qemu-system-aarch64; do
  if command -v $qemu >/dev/null; then
    echo "test: e2e tier ($qemu) runs; boot captures cached in ${KSYMTREE_E2E_CACHE:-$HOME/.cache/ksymtree-e2e}"
  else
    echo "test: e2e tier on $qemu SKIPPED: its Debian package could not be installed"
  fi
done

# the kbuild tier: its link step runs this checkout's ksymtree, so dist/ is brought up to date first
if [[ ${KSYMTREE_KBUILD:-1} == 0 ]]; then
  echo "test: kbuild tier SKIPPED (KSYMTREE_KBUILD=0)"
elif npx tsc -p . && dir=$(scripts/kbuild-kernel 6.1 2> >(tee /tmp/ksymtree-kbuild.log >&2)); then
  export KSYMTREE_KBUILD_61=$dir
  echo "test: kbuild tier uses $dir"
else
  # not a skip: the tier's test fails with this
  export KSYMTREE_KBUILD_61_ERROR="scripts/kbuild-kernel 6.1 failed: $(tail -n 5 /tmp/ksymtree-kbuild.log)"
  echo "test: kbuild tier: $KSYMTREE_KBUILD_61_ERROR"
fi

tap=$(mktemp)
npx ava --tap "$@" | tee "$tap"
status=${PIPESTATUS[0]}
pass=$(grep -E '^# pass ' "$tap" | awk '{print $3}'); fail=$(grep -E '^# fail ' "$tap" | awk '{print $3}')
skip=$(grep -E '^# skip ' "$tap" | awk '{print $3}')
pass=${pass:-0} fail=${fail:-0} skip=${skip:-0}

# Other Node lines: only for the whole suite (not `npm run test:e2e` or a file list); by default the ones
# scripts/test-node-versions.sh names (package.json's engines but the default node's).
versions=${KSYMTREE_NODE_VERSIONS:-}
if (($#)); then
  :
elif [[ $versions == none ]]; then
  echo "test: fixture tier on other Node lines SKIPPED (KSYMTREE_NODE_VERSIONS=none)"
else
  # shellcheck disable=SC2086
  scripts/test-node-versions.sh $versions | tee "$tap"
  ((PIPESTATUS[0] == 0)) || status=1
  read -r p _ f _ s _ < <(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$tap" | tail -n 1)
  [[ -n ${p:-} ]] || { p=0 f=1 s=0; }
  pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
fi
rm -f "$tap"
echo "$pass passed, $fail failed, $skip skipped"
exit "$status"
