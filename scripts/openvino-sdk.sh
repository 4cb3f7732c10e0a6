#!/usr/bin/env bash
# Assembles an OpenVINO SDK in SDK_DIR from the PyPI `openvino` wheel, which ships the C++ headers, the
# CMake package (OpenVINOConfig.cmake) and the libraries: SDK_DIR/openvino/{cmake,include,libs}, the
# layout the wheel's CMake files expect. Used by scripts/bootstrap.sh and by the container builds; a
# user's own OpenVINO (OpenVINO_DIR, or a system package) is found by CMake first.
#
#   scripts/openvino-sdk.sh SDK_DIR PYTHON       PYTHON: an interpreter with pip
#
# ESM_ONNX_OPENVINO_VERSION overrides the release (default 2026.4.1). The Python package depends on the
# same release, since the library's file name carries it (libopenvino.so.2641).
set -euo pipefail

SDK_DIR="$1"
PY="$2"
OV_VERSION="${ESM_ONNX_OPENVINO_VERSION:-2026.4.1}"
STAMP="openvino $OV_VERSION"

log() { printf '[openvino-sdk] %s\n' "$*"; }

if [ -f "$SDK_DIR/.complete" ] && [ "$(cat "$SDK_DIR/.complete")" = "$STAMP" ]; then exit 0; fi

log "assembling OpenVINO $OV_VERSION in $SDK_DIR"
rm -rf "$SDK_DIR"; mkdir -p "$SDK_DIR"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps -d "$tmp/wheel" "openvino==$OV_VERSION"
"$PY" - "$tmp/wheel" "$SDK_DIR" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "openvino-*.whl"))[0]
keep = ("openvino/cmake/", "openvino/include/", "openvino/libs/")
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(keep) and not n.endswith("/")]
    if "openvino/cmake/OpenVINOConfig.cmake" not in names:
        sys.exit(f"{wheel}: no openvino/cmake/OpenVINOConfig.cmake inside; this release cannot be built against")
    for n in names:
        dest = os.path.join(sys.argv[2], n)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(n) as src, open(dest, "wb") as out:
            out.write(src.read())
        mode = (z.getinfo(n).external_attr >> 16) & 0o777
        os.chmod(dest, mode or 0o644)
PY
# The wheel holds only the versioned libraries; the link-time names point at them.
for lib in "$SDK_DIR"/openvino/libs/lib*.so.[0-9]*; do
  base="$(basename "$lib")"
  ln -sf "$base" "$SDK_DIR/openvino/libs/${base%%.so.*}.so"
done
echo "$STAMP" > "$SDK_DIR/.complete"
