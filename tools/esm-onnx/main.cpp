#include "cli.h"

int main(int argc, char** argv) { return esm_onnx::cli::main(argc, argv); }
