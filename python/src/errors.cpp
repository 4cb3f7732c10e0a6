// C++ errors as the package's exception classes (set once by esm_onnx/__init__.py through _set_errors).
#include "binding.h"
#include "esm_onnx/base/errors.h"

namespace esm_onnx::python {

using namespace nb::literals;
namespace {

// The Python classes our C++ errors become; set once by esm_onnx/__init__.py.
struct PyErrors {
  nb::object base, usage, format, unsupported, input, file, runtime, internal;
} g_errors;

void translate(const std::exception_ptr& p, void*) {
  auto raise = [](const nb::object& cls, const char* msg) {
    PyErr_SetString(cls.is_valid() ? cls.ptr() : PyExc_RuntimeError, msg);
  };
  try {
    std::rethrow_exception(p);
  } catch (const UsageError& e) {
    raise(g_errors.usage, e.what());
  } catch (const FormatError& e) {
    raise(g_errors.format, e.what());
  } catch (const UnsupportedError& e) {
    raise(g_errors.unsupported, e.what());
  } catch (const InputError& e) {
    raise(g_errors.input, e.what());
  } catch (const FileError& e) {
    raise(g_errors.file, e.what());
  } catch (const RuntimeFailure& e) {
    raise(g_errors.runtime, e.what());
  } catch (const InternalError& e) {
    raise(g_errors.internal, (std::string("internal error: ") + e.what() + " (a bug in esm-onnx: please report it)").c_str());
  } catch (const Error& e) {
    raise(g_errors.base, e.what());
  } catch (const std::bad_alloc&) {
    throw;  // nanobind's MemoryError
  } catch (const std::exception& e) {
    // Not one of ours: still an esm_onnx.Error, as the API promises, saying it is a bug to report.
    raise(g_errors.internal, (std::string("internal error: ") + e.what() + " (a bug in esm-onnx: please report it)").c_str());
  }
}


}  // namespace

void bind_errors(nb::module_& m) {
  nb::register_exception_translator(translate);
  m.def("_set_errors", [](nb::dict d) {
    g_errors = {d["Error"], d["UsageError"], d["FormatError"], d["UnsupportedError"], d["InputError"], d["FileError"],
                d["RuntimeFailure"], d["InternalError"]};
  }, "classes"_a);
}

}  // namespace esm_onnx::python
