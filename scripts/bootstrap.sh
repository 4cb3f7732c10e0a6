#!/usr/bin/env bash
# Installs everything esm-onnx needs to build and test. Idempotent: every step checks before it acts,
# so `make test` can call it on every run at almost no cost.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ORT_VERSION="${ESM_ONNX_ORT_VERSION:-1.32.0}"
TORCH_VERSION="2.13.0"
SDK_DIR="$ROOT/third_party/onnxruntime"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

log() { printf '[bootstrap] %s\n' "$*"; }

# The Debian archive this machine's apt already uses (its main suite, whatever mirror the sources name),
# so that no host name is written here; ESM_ONNX_DEBIAN_MIRROR overrides it.
debian_mirror() {
  if [ -n "${ESM_ONNX_DEBIAN_MIRROR:-}" ]; then echo "$ESM_ONNX_DEBIAN_MIRROR"; return; fi
  local codename uri
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  find_uri() {
    apt-cache policy 2>/dev/null | awk -v n="n=$codename," '
      /^ *-?[0-9]+ [a-z+]+:\/\// {uri = $2; next}
      /release / && index($0, "o=Debian,") && index($0, n) {print uri; exit}'
  }
  uri="$(find_uri)"
  if [ -z "$uri" ]; then
    $SUDO apt-get update -qq
    uri="$(find_uri)"
  fi
  if [ -z "$uri" ]; then
    echo "bootstrap: no Debian archive for '$codename' in this machine's apt sources; set ESM_ONNX_DEBIAN_MIRROR to one" >&2
    exit 1
  fi
  echo "$uri"
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- Debian packages -------------------------------------------------------------------------------
DEB_PACKAGES=(
  build-essential pkg-config binutils ninja-build time
  libonnx-dev libprotobuf-dev protobuf-compiler
  libzip-dev libhdf5-dev libcli11-dev nlohmann-json3-dev libfmt-dev libgtest-dev libssl-dev
  libcurl4-openssl-dev
  python3-venv patchelf clang
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
# A user's own ONNX Runtime (ONNXRUNTIME_ROOT or a system package) is picked by CMake first; this
# SDK is the fallback: the shared library of the PyPI wheel plus the C/C++ headers of Debian's
# libonnxruntime-dev from trixie (the C API is ABI-stable, so older headers work with a newer library).
if [ ! -f "$SDK_DIR/.complete" ]; then
  log "assembling ONNX Runtime $ORT_VERSION SDK in $SDK_DIR"
  rm -rf "$SDK_DIR"; mkdir -p "$SDK_DIR/lib" "$SDK_DIR/include"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  "$VENV/bin/pip" download -q --no-deps -d "$tmp/wheel" "onnxruntime==$ORT_VERSION"
  "$VENV/bin/python" - "$tmp/wheel" "$SDK_DIR/lib" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "onnxruntime-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if "/capi/libonnxruntime.so" in n]
    if not names:
        sys.exit(f"{wheel}: no libonnxruntime.so inside")
    for n in names:
        dst = os.path.join(sys.argv[2], os.path.basename(n))
        with z.open(n) as src, open(dst, "wb") as out:
            out.write(src.read())
PY
  lib="$(ls "$SDK_DIR"/lib/libonnxruntime.so.* | head -n1)"
  ln -sf "$(basename "$lib")" "$SDK_DIR/lib/libonnxruntime.so"
  soname="$(objdump -p "$lib" 2>/dev/null | awk '/SONAME/ {print $2}')"
  ln -sf "$(basename "$lib")" "$SDK_DIR/lib/${soname:-libonnxruntime.so.1}"
  mkdir -p "$tmp/apt/lists/partial" "$tmp/deb"
  mirror="$(debian_mirror)"
  log "Debian archive for the trixie headers: $mirror (from this machine's apt sources)"
  echo "deb $mirror trixie main" > "$tmp/apt/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$tmp/apt/sources.list" -o "Dir::Etc::sourceparts=-"
            -o "Dir::State::Lists=$tmp/apt/lists" -o "Debug::NoLocking=1"
            -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$tmp/deb" && apt-get "${apt_opts[@]}" download libonnxruntime-dev 2>/dev/null)
  dpkg -x "$tmp"/deb/libonnxruntime-dev_*.deb "$tmp/x"
  cp -r "$tmp/x/usr/include/onnxruntime/." "$SDK_DIR/include/"
  echo "$ORT_VERSION" > "$SDK_DIR/.complete"
fi
log "ready"
