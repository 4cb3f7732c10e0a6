// esm_onnx._core: the library's API for Python. The public, documented API is the Python layer in
// esm_onnx/__init__.py; this module converts types and releases the GIL while C++ runs.
#include "binding.h"

NB_MODULE(_core, m) {
  m.doc() = "esm-onnx's C++ library; use the esm_onnx package, not this module.";
  esm_onnx::python::bind_errors(m);
  esm_onnx::python::bind_options(m);
  esm_onnx::python::bind_model(m);
  esm_onnx::python::bind_jobs(m);
  esm_onnx::python::bind_registry(m);
  esm_onnx::python::bind_score(m);
  esm_onnx::python::bind_structure(m);
  esm_onnx::python::bind_fold(m);
}
