#!/usr/bin/env bash
# Installs whatever samtutor still lacks on a Debian 12 machine (idempotent; run as root or with sudo), then
# runs one of: demo (default) | test | bench | none.
#   bash scripts/setup.sh demo    # set up, then train the small U-Net for a minute and plot its loss
#   bash scripts/setup.sh test    # set up (with PyTorch for the reference tests), then run the test suite
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:-demo}"
case "$mode" in demo|test|bench|none) ;; *) echo "setup.sh: unknown mode '$mode' (expected demo, test, bench or none)" >&2; exit 2 ;; esac

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Node 20+ (the machine's own; Debian 12's nodejs is 18, too old).
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup.sh: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# 2. Debian packages: libtorch and OpenBLAS's OpenMP build for the engine (native/binding.gyp says why), a C++
#    toolchain for the addon, PyTorch itself for the tests and benchmarks (the side-by-side reference), and
#    scikit-image and OpenCV, whose resizers MedSAM and LiteMedSAM preprocess with (the predictor tests compare
#    against them).
pkgs=(libtorch-dev libopenblas0-openmp g++ make python3)
if [ "$mode" = test ] || [ "$mode" = bench ]; then pkgs+=(python3-torch python3-skimage python3-opencv); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 3. npm dependencies, when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 4. The native addon, when missing or older than its sources.
addon=native/build/Release/samtutor.node
if [ ! -f "$addon" ] || [ -n "$(find native -maxdepth 1 \( -name '*.cc' -o -name '*.h' -o -name 'binding.gyp' \) -newer "$addon" -print -quit)" ]; then
  say "building the native addon (about a minute on 2 cores)"
  # Build against the installed Node's headers (offline: node-gyp must not try to download them).
  nodedir="$(dirname "$(dirname "$(command -v node)")")"
  nodedir_flag=(); [ -f "$nodedir/include/node/node_api.h" ] && nodedir_flag=(--nodedir="$nodedir")
  npx --no-install node-gyp rebuild --directory native -j "$(nproc)" --loglevel=error "${nodedir_flag[@]}"
fi

case "$mode" in
  demo) exec node bin/samtutor.js demo ;;
  test) exec npm test --silent ;;
  bench) exec node --import tsx bench/engine/run.ts ;;
  none) say "ready" ;;
esac
