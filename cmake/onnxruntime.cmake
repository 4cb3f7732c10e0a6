# Finds ONNX Runtime and exposes it as the IMPORTED target esm_onnx::onnxruntime.
# Order: a user's ONNXRUNTIME_ROOT (official release layout: include/ and lib/), then a system package
# found by find_package(onnxruntime), then the SDK that scripts/bootstrap.sh assembles in third_party/.
set(ONNXRUNTIME_ROOT "$ENV{ONNXRUNTIME_ROOT}" CACHE PATH "ONNX Runtime release folder (include/, lib/)")

function(_esm_onnx_ort_from_root root)
  find_path(_ort_inc onnxruntime_cxx_api.h
            PATHS "${root}/include" "${root}/include/onnxruntime"
            "${root}/include/onnxruntime/core/session" NO_DEFAULT_PATH)
  find_library(_ort_lib NAMES onnxruntime PATHS "${root}/lib" "${root}/lib64" NO_DEFAULT_PATH)
  if(NOT _ort_inc OR NOT _ort_lib)
    message(FATAL_ERROR "ONNXRUNTIME_ROOT=${root} holds no include/onnxruntime_cxx_api.h and lib/libonnxruntime: "
                        "point it at an ONNX Runtime release folder, or unset it to use the bootstrapped SDK")
  endif()
  add_library(esm_onnx::onnxruntime SHARED IMPORTED GLOBAL)
  set_target_properties(esm_onnx::onnxruntime PROPERTIES
    IMPORTED_LOCATION "${_ort_lib}" INTERFACE_INCLUDE_DIRECTORIES "${_ort_inc}")
  get_filename_component(_ort_libdir "${_ort_lib}" DIRECTORY)
  set(ESM_ONNX_ORT_LIBDIR "${_ort_libdir}" CACHE INTERNAL "")
  # onnxruntime-gpu assembled by `ESM_ONNX_CUDA=1 scripts/bootstrap.sh`: the folders of its CUDA libraries.
  if(EXISTS "${root}/cuda-libdirs.txt")
    file(STRINGS "${root}/cuda-libdirs.txt" _dirs)
    list(JOIN _dirs ":" _joined)
    set(ESM_ONNX_CUDA_LIBDIRS "${_joined}" CACHE INTERNAL "")
    message(STATUS "CUDA libraries for --device cuda: ${_joined}")
  endif()
  message(STATUS "ONNX Runtime: ${_ort_lib} (headers ${_ort_inc})")
endfunction()

if(ONNXRUNTIME_ROOT)
  _esm_onnx_ort_from_root("${ONNXRUNTIME_ROOT}")
else()
  find_package(onnxruntime CONFIG QUIET)
  if(onnxruntime_FOUND AND TARGET onnxruntime::onnxruntime)
    add_library(esm_onnx::onnxruntime INTERFACE IMPORTED GLOBAL)
    target_link_libraries(esm_onnx::onnxruntime INTERFACE onnxruntime::onnxruntime)
    # Debian's package puts the C++ headers in include/onnxruntime without adding that folder.
    get_target_property(_inc onnxruntime::onnxruntime INTERFACE_INCLUDE_DIRECTORIES)
    foreach(_d IN LISTS _inc)
      if(EXISTS "${_d}/onnxruntime/onnxruntime_cxx_api.h")
        target_include_directories(esm_onnx::onnxruntime INTERFACE "${_d}/onnxruntime")
      endif()
    endforeach()
    message(STATUS "ONNX Runtime: system package ${onnxruntime_DIR}")
  elseif(EXISTS "${PROJECT_SOURCE_DIR}/third_party/onnxruntime/.complete")
    _esm_onnx_ort_from_root("${PROJECT_SOURCE_DIR}/third_party/onnxruntime")
  else()
    message(FATAL_ERROR "ONNX Runtime not found: run scripts/bootstrap.sh, or pass -DONNXRUNTIME_ROOT=<release folder>")
  endif()
endif()
