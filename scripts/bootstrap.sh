#!/usr/bin/env bash
# Installs everything esm-onnx needs to build and test. Idempotent: every step checks before it acts,
# so `make test` can call it on every run at almost no cost.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TORCH_VERSION="2.13.0"
SDK_DIR="$ROOT/third_party/onnxruntime"
if [ "${ESM_ONNX_CUDA:-0}" = 1 ]; then SDK_DIR="$ROOT/third_party/onnxruntime-gpu"; fi
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

log() { printf '[bootstrap] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- Debian packages -------------------------------------------------------------------------------
DEB_PACKAGES=(
  build-essential pkg-config binutils ninja-build time
  libonnx-dev libprotobuf-dev protobuf-compiler
  libzip-dev libhdf5-dev libcli11-dev nlohmann-json3-dev libfmt-dev libgtest-dev libssl-dev
  libcurl4-openssl-dev libcsv-dev
  python3-venv patchelf clang
  iproute2  # ip netns and ss: the Ray test cluster in a namespace with only the loopback interface
)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v cmake >/dev/null 2>&1; then missing+=(cmake); fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# clang's sanitizer and libFuzzer runtimes (make fuzz) come in a package of their own, named by clang's major
# version and only recommended by clang, so --no-install-recommends leaves them out.
if command -v clang >/dev/null 2>&1 && [ ! -f "$(clang -print-runtime-dir)/libclang_rt.asan-x86_64.a" ]; then
  major="$(clang -dumpversion | cut -d. -f1)"
  log "installing clang's runtimes (libclang-rt-$major-dev)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "libclang-rt-$major-dev" >/dev/null
fi

# --- Python virtualenv (oracle, tests, benchmarks) -------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY_STAMP="$VENV/.esm-onnx-requirements"
REQ_HASH="$(sha256sum requirements-dev.txt | cut -d' ' -f1)"
if [ ! -f "$PY_STAMP" ] || [ "$(cat "$PY_STAMP")" != "$REQ_HASH" ]; then
  log "installing Python packages (torch==$TORCH_VERSION CPU, fair-esm, ...)"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  # torch first and pinned: any other version would download gigabytes of CUDA wheels.
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
  "$VENV/bin/pip" install -q -r requirements-dev.txt
  echo "$REQ_HASH" > "$PY_STAMP"
fi

# --- ONNX Runtime SDK -------------------------------------------------------------------------------
# A user's own ONNX Runtime (ONNXRUNTIME_ROOT or a system package) is picked by CMake first; this SDK is
# the fallback. ESM_ONNX_CUDA=1: onnxruntime-gpu, and the CUDA libraries it needs from PyPI (the nvidia-*
# wheels, in .venv-cuda), whose folders the build records so that `embed --device cuda` finds them.
ESM_ONNX_CUDA="${ESM_ONNX_CUDA:-0}" scripts/onnxruntime-sdk.sh "$SDK_DIR" "$VENV/bin/python"
if [ "${ESM_ONNX_CUDA:-0}" = 1 ]; then
  CUDA_VENV="$ROOT/.venv-cuda"
  [ -x "$CUDA_VENV/bin/python" ] || "$PYTHON" -m venv "$CUDA_VENV"
  gpu_version="$(cut -d' ' -f2 "$SDK_DIR/.complete")"
  if ! "$CUDA_VENV/bin/python" -c "import importlib.metadata as m; assert m.version('onnxruntime-gpu') == '$gpu_version'" 2>/dev/null; then
    log "installing the CUDA libraries onnxruntime-gpu $gpu_version needs (nvidia-* wheels) into $CUDA_VENV"
    "$CUDA_VENV/bin/pip" install -q "onnxruntime-gpu[cuda,cudnn]==$gpu_version"
  fi
  "$CUDA_VENV/bin/python" -c "
import glob, os, sysconfig
site = sysconfig.get_paths()['purelib']
print('\n'.join(sorted({os.path.dirname(p) for p in glob.glob(os.path.join(site, 'nvidia', '*', 'lib', 'lib*.so*'))})))
" > "$SDK_DIR/cuda-libdirs.txt"
fi
# --- OpenVINO SDK (the second engine) -----------------------------------------------------------------
# A user's own OpenVINO (OpenVINO_DIR) is picked by CMake first; this one comes from the PyPI wheel.
scripts/openvino-sdk.sh "$ROOT/third_party/openvino" "$VENV/bin/python"
log "ready"
