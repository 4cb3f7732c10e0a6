#pragma once
// The fuzz targets: each feeds one parser of untrusted bytes and accepts only esm-onnx's typed errors.
// Any other exception, a crash or a sanitizer report is a finding. Compiled into the libFuzzer binaries
// (fuzz_main.cpp) and into the C++ tests, which replay every saved regression input.
#include <cstddef>
#include <cstdint>
#include <string>

namespace esm_onnx::fuzz {

int pickle(const uint8_t* data, std::size_t size);      // the pickle machine
int torch_file(const uint8_t* data, std::size_t size);  // torch zip and legacy files, every tensor read
int checkpoint(const uint8_t* data, std::size_t size);  // the checkpoint layer: layouts, the tensor table
int safetensors(const uint8_t* data, std::size_t size);  // safetensors: header JSON, ranges, every tensor read
int fasta(const uint8_t* data, std::size_t size);       // FASTA records and the tokenizer
int metadata(const uint8_t* data, std::size_t size);    // a converted model's metadata ("key=value" lines)
int onnx_header(const uint8_t* data, std::size_t size);  // a .onnx file's ModelProto scan, then its metadata
int transformers_config(const uint8_t* data, std::size_t size);  // config.json [NUL sharded index] of a folder
int labels(const uint8_t* data, std::size_t size);  // label -> file name: inside OUTDIR, one-to-one
int dms(const uint8_t* data, std::size_t size);     // a deep mutational scan's CSV and its mutations

// name -> target, for the replaying test and the fuzz binaries
using Target = int (*)(const uint8_t*, std::size_t);
Target find_target(const std::string& name);

}  // namespace esm_onnx::fuzz
