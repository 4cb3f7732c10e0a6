#!/usr/bin/env bash
# `make test-containers`: builds docker/Dockerfile and docker/Dockerfile.cuda with buildah and runs them with
# podman, without a Docker engine and without a registry:
#   - a debian:bookworm-slim base made here with mmdebstrap from this machine's apt archive (with this machine's
#     extra CA certificates, so that pip works behind a TLS-intercepting proxy);
#   - storage in a temporary folder (overlay), runc as the runtime, ulimits no higher than the shell's;
#   - the CPU image, with no network, converts the demo checkpoint and embeds demo/example.fasta into a mounted
#     folder: the outputs must equal the host build's within 1e-6, and OpenVINO's (fp32 compute) within 1e-4;
#     its runtime stage must hold no compiler;
#   - the CUDA image runs `inspect`, and `embed --device cuda` must fail with the clear no-GPU message.
# Image sizes are printed. Everything is removed at the end. A machine where the tools cannot run fails the
# test with the reason; nothing is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CLI="$ROOT/build/bin/esm-onnx"
PY="$ROOT/.venv/bin/python"
log() { printf '[containers] %s\n' "$*"; }
die() { printf '[containers] FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "building images without a Docker engine needs root here (buildah/podman with runc); run as root"
[ -x "$CLI" ] || die "$CLI is not built: run make build"
SUDO=""
. scripts/debian-mirror.sh

need=()
for p in buildah podman mmdebstrap runc uidmap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "cannot install ${need[*]} with apt"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/esm-onnx-containers.XXXXXX")"
export CONTAINERS_STORAGE_CONF="$WORK/storage.conf" CONTAINERS_CONF="$WORK/containers.conf"
cat > "$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/graph"
runroot = "$WORK/run"
CONF
nofile="$(ulimit -Hn)"
cat > "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
cleanup() {
  podman rm -a -f >/dev/null 2>&1 || true
  buildah rm -a >/dev/null 2>&1 || true
  podman rmi -a -f >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
  umount -R "$WORK/graph" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "base image: mmdebstrap --variant=minbase bookworm from $(debian_mirror)"
mirror="$(debian_mirror)"
mmdebstrap --quiet --variant=minbase bookworm "$WORK/rootfs.tar" "deb $mirror bookworm main" \
  || die "mmdebstrap could not make a bookworm root file system"
c="$(buildah from scratch)"
buildah add "$c" "$WORK/rootfs.tar" / >/dev/null
if [ -d /usr/local/share/ca-certificates ] && [ -n "$(ls -A /usr/local/share/ca-certificates)" ]; then
  buildah add "$c" /usr/local/share/ca-certificates /usr/local/share/ca-certificates >/dev/null
  buildah add "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
fi
buildah commit -q "$c" localhost/debian:bookworm-slim >/dev/null
buildah rm "$c" >/dev/null

for kind in cpu cuda; do
  file=docker/Dockerfile; [ "$kind" = cuda ] && file=docker/Dockerfile.cuda
  log "building esm-onnx:$kind ($file)"
  t0=$SECONDS
  buildah bud --quiet --isolation chroot --pull=never --layers -t "localhost/esm-onnx:$kind" -f "$file" . >"$WORK/build-$kind.log" 2>&1 \
    || { tail -40 "$WORK/build-$kind.log" >&2; die "buildah could not build $file"; }
  size="$(podman image inspect --format '{{.Size}}' "localhost/esm-onnx:$kind")"
  log "esm-onnx:$kind built in $((SECONDS - t0)) s: $((size / 1000000)) MB"
done

DATA="$WORK/data"; HOST="$WORK/host"
mkdir -p "$DATA" "$HOST"
cp demo/esm2_t4_64_RANDOM_WEIGHTS_demo.pt demo/esm2_t4_64_RANDOM_WEIGHTS_demo-contact-regression.pt demo/example.fasta "$DATA/"
chmod -R a+rwX "$DATA"
run() { podman run --rm --network none -v "$DATA:/data" "$@"; }

log "CPU image: convert and embed with no network"
run localhost/esm-onnx:cpu convert esm2_t4_64_RANDOM_WEIGHTS_demo.pt -o demo.onnx --repr-layers 0 -1 -q
run localhost/esm-onnx:cpu embed demo.onnx example.fasta out --include mean per_tok contacts logits --no-progress
"$CLI" convert demo/esm2_t4_64_RANDOM_WEIGHTS_demo.pt -o "$HOST/demo.onnx" --repr-layers 0 -1 -q
"$CLI" embed "$HOST/demo.onnx" demo/example.fasta "$HOST/out" --include mean per_tok contacts logits --no-progress
compare() {  # IMAGE_OUT HOST_OUT TOLERANCE WHAT
"$PY" - "$@" <<'PYCODE'
import pathlib, sys
import numpy as np
image, host = map(pathlib.Path, sys.argv[1:3])
tol, what = float(sys.argv[3]), sys.argv[4]
files = sorted(p.name for p in host.glob("*.npz"))
assert files and files == sorted(p.name for p in image.glob("*.npz")), "the image wrote other records"
worst = 0.0
for name in files:
    a, b = np.load(image / name), np.load(host / name)
    assert sorted(a.files) == sorted(b.files), name
    assert a["label"] == b["label"], name
    for k in a.files:
        if k != "label":
            worst = max(worst, float(np.abs(a[k] - b[k]).max(initial=0)))
assert worst <= tol, f"{what}: the image's outputs differ from the host build's by {worst}"
print(f"[containers] {what}: {len(files)} records, image against host build: max abs difference {worst:.2g}")
PYCODE
}
compare "$DATA/out" "$HOST/out" 1e-6 "ONNX Runtime"
log "CPU image: the OpenVINO engine (fp32 compute, its own standard-op graph) against the host's ONNX Runtime run"
run localhost/esm-onnx:cpu convert esm2_t4_64_RANDOM_WEIGHTS_demo.pt -o demo_ov.onnx --repr-layers 0 -1 -q --engine openvino
run localhost/esm-onnx:cpu embed demo_ov.onnx example.fasta out_ov --include mean per_tok contacts logits --no-progress \
  --engine openvino --compute fp32
compare "$DATA/out_ov" "$HOST/out" 1e-4 "OpenVINO fp32"

log "CPU image: no compiler in the runtime stage"
run --entrypoint sh localhost/esm-onnx:cpu -c 'for c in cc gcc g++ c++ clang cmake make ld; do if command -v $c; then exit 1; fi; done' \
  || die "the runtime image holds a compiler or build tool"
[ "$(run --entrypoint id localhost/esm-onnx:cpu -u)" != 0 ] || die "the image runs as root"

log "CUDA image: inspect, and --device cuda without a GPU"
run localhost/esm-onnx:cuda inspect demo.onnx >/dev/null
set +e
msg="$(run localhost/esm-onnx:cuda embed demo.onnx example.fasta out_cuda --device cuda --no-progress 2>&1)"
rc=$?
set -e
[ "$rc" -eq 1 ] || die "embed --device cuda without a GPU exited $rc (expected 1): $msg"
grep -q "CUDA provider could not start" <<<"$msg" || die "embed --device cuda without a GPU: unclear message: $msg"
log "no GPU: $(head -c 300 <<<"$msg")"
log "passed"
