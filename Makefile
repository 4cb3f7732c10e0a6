# esm-onnx: `make demo` and `make test` are the two commands to know.
SHELL := /bin/bash
# CUDA=1: ONNX Runtime with CUDA from PyPI (onnxruntime-gpu and the nvidia-* wheels), built in build-cuda/.
CUDA  ?= 0
ifeq ($(CUDA),1)
BUILD ?= build-cuda
export ESM_ONNX_CUDA := 1
ORT_ROOT := -DONNXRUNTIME_ROOT=$(CURDIR)/third_party/onnxruntime-gpu
endif
BUILD ?= build
VENV  := .venv
PY    := $(VENV)/bin/python
GEN   := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
JOBS  ?= $(shell nproc)

.PHONY: all bootstrap build test test-cpp test-python test-wheel test-containers wheel demo debug clean bench scaling fuzz

all: build

bootstrap:
	@./scripts/bootstrap.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Release -DESM_ONNX_PYTHON=ON -DPython_EXECUTABLE=$(CURDIR)/$(PY) $(ORT_ROOT)

build: bootstrap $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Debug build with AddressSanitizer and UBSan, C++ tests only.
debug: bootstrap
	cmake --preset debug $(GEN)
	cmake --build build-debug -j $(JOBS)
	ctest --test-dir build-debug --output-on-failure

test-cpp: build
	ctest --test-dir $(BUILD) --output-on-failure

test-python: build
	rm -f $(BUILD)/parity.json $(BUILD)/fidelity.json
	$(PY) -m pytest -q tests/python

# The wheel, installed into a new virtual environment and used there.
test-wheel: wheel
	$(PY) -m pytest -q tests/wheel

test: test-cpp test-python test-wheel

# The CPU and CUDA images (docker/) built with buildah and run with podman, no Docker engine needed (root).
test-containers: build
	tests/containers/run.sh

# dist/esm_onnx-*.whl: the extension built by scikit-build-core, its native libraries (protobuf, ONNX,
# libzip, HDF5, ...) vendored by auditwheel; ONNX Runtime and OpenVINO come from the onnxruntime and
# openvino dependencies.
wheel: bootstrap
	rm -rf build/wheel-raw dist
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w build/wheel-raw .
	$(PY) -m auditwheel repair -w dist --exclude libonnxruntime.so.1 --exclude 'libopenvino.so.*' build/wheel-raw/esm_onnx-*.whl

# Side-by-side benchmark against fair-esm, the original ONNX route and HF transformers; writes
# BENCHMARKS.md and bench/throughput_vs_length.png. QUICK=1: two small models, a few minutes.
bench: build
	@$(PY) -m pip install -q -r requirements-bench.txt
	FROM_MAKE=1 $(PY) bench/bench.py $(if $(QUICK),--quick)

# Coverage-guided fuzzing (libFuzzer, ASan, UBSan; clang) of every parser of untrusted bytes, FUZZ_SECONDS
# per target (default 60) from seed corpora made with fair-esm; crashes land in build-fuzz/crashes/.
FUZZ_SECONDS ?= 60
fuzz: bootstrap
	@command -v clang++ >/dev/null || { echo "make fuzz needs clang: apt-get install clang"; exit 1; }
	cmake --preset fuzz $(GEN) >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	$(PY) tests/fuzz/seeds.py build-fuzz/corpus
	FUZZ_SEED=$(FUZZ_SEED) tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# What one esm-onnx-ray actor does here, and from it the cost of UniRef50 on many machines: SCALING.md.
scaling: build
	FROM_MAKE=1 $(PY) bench/scaling.py $(if $(QUICK),--quick)

DEMO_CKPT := demo/esm2_t4_64_RANDOM_WEIGHTS_demo.pt
demo: build
	@echo "== demo: the shipped checkpoint has RANDOM weights (ESM-2 layout, 4 layers, dim 64): its numbers mean nothing =="
	$(BUILD)/bin/esm-onnx inspect $(DEMO_CKPT)
	$(BUILD)/bin/esm-onnx convert $(DEMO_CKPT) -o demo/out/esm2_demo.onnx --repr-layers 0 -1
	rm -rf demo/out/embeddings
	$(BUILD)/bin/esm-onnx embed demo/out/esm2_demo.onnx demo/example.fasta demo/out/embeddings --include mean per_tok contacts
	@echo "== written: =="
	@ls -l demo/out/esm2_demo.onnx demo/out/embeddings
	@$(PY) -c "import numpy as np,glob; f=sorted(glob.glob('demo/out/embeddings/*.npz'))[0]; z=np.load(f); print(f); [print('  ',k,z[k].shape) for k in z.files]"

clean:
	rm -rf $(BUILD) build-debug build-fuzz demo/out dist
