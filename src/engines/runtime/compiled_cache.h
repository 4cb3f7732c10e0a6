#pragma once
// Where OpenVINO caches the compiled form of one model file. OpenVINO keys a file's cache entry on its path,
// size and modification time in whole seconds, so a model converted again into the same file within a second
// would load the old compiled one. Each version of a file therefore gets a folder of its own, named for the
// file's identity to the nanosecond (and its external weights'); older versions' folders are removed.
#include <string>

namespace esm_onnx::runtime {

// ROOT/<hash of the absolute path>/<hash of size, mtime in ns, inode, device of the model and its .data file>,
// created. FileError, naming ROOT and the options that change it, when it cannot be created.
std::string compiled_cache_folder(const std::string& root, const std::string& model_path);

}  // namespace esm_onnx::runtime
