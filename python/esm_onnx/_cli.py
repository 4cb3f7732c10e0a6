"""The `esm-onnx` command of the Python package: the same C++ command line as the standalone binary."""
from __future__ import annotations

import signal
import sys


def main() -> int:
    from . import _core

    # The C++ code runs without the GIL; Ctrl-C should stop it as it stops the standalone binary.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return _core.cli_main(["esm-onnx", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
