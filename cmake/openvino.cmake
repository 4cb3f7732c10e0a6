# Finds OpenVINO (the second engine) and exposes it as the IMPORTED target esm_onnx::openvino.
# Order: a user's OpenVINO_DIR (its OpenVINOConfig.cmake), then a system installation found by
# find_package(OpenVINO), then the SDK that scripts/bootstrap.sh assembles from the PyPI wheel in
# third_party/openvino. ESM_ONNX_OPENVINO=OFF builds without it: `--engine openvino` then says so.
option(ESM_ONNX_OPENVINO "Build the OpenVINO engine (--engine openvino)" ON)
set(ESM_ONNX_HAS_OPENVINO OFF)
if(ESM_ONNX_OPENVINO)
  if(NOT OpenVINO_DIR AND DEFINED ENV{OpenVINO_DIR})
    set(OpenVINO_DIR "$ENV{OpenVINO_DIR}")
  endif()
  if(OpenVINO_DIR)
    find_package(OpenVINO CONFIG REQUIRED COMPONENTS Runtime)
  else()
    find_package(OpenVINO CONFIG QUIET COMPONENTS Runtime)
    if(NOT OpenVINO_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/third_party/openvino/.complete")
      find_package(OpenVINO CONFIG REQUIRED COMPONENTS Runtime
                   PATHS "${PROJECT_SOURCE_DIR}/third_party/openvino/openvino/cmake" NO_DEFAULT_PATH)
    endif()
  endif()
  if(NOT OpenVINO_FOUND)
    message(FATAL_ERROR "OpenVINO not found: run scripts/bootstrap.sh, pass -DOpenVINO_DIR=<folder of OpenVINOConfig.cmake>, "
                        "or -DESM_ONNX_OPENVINO=OFF to build without the OpenVINO engine")
  endif()
  add_library(esm_onnx::openvino INTERFACE IMPORTED GLOBAL)
  target_link_libraries(esm_onnx::openvino INTERFACE openvino::runtime)
  get_target_property(_ov_lib openvino::runtime IMPORTED_LOCATION_RELEASE)
  if(NOT _ov_lib)
    get_target_property(_ov_lib openvino::runtime IMPORTED_LOCATION)
  endif()
  get_filename_component(_ov_libdir "${_ov_lib}" DIRECTORY)
  set(ESM_ONNX_OV_LIBDIR "${_ov_libdir}" CACHE INTERNAL "")
  set(ESM_ONNX_HAS_OPENVINO ON)
  message(STATUS "OpenVINO ${OpenVINO_VERSION}: ${_ov_lib}")
endif()
