"""The exceptions esm-onnx raises. Each C++ error type of the library becomes one of these, with the
same message the CLI prints (it names the file, record, tensor or option at fault)."""
from __future__ import annotations


class Error(Exception):
    """Base class of every error esm-onnx raises on purpose."""


class UsageError(Error, ValueError):
    """A bad argument: an unknown option value, a layer the model did not export, contacts asked of a
    model without them."""


class InputError(Error, ValueError):
    """A bad record: a character outside the alphabet, no residues, longer than the model allows; or a
    FASTA file that is not FASTA. The message names the record."""


class FormatError(Error, ValueError):
    """A file is not what it claims to be: truncated, corrupt, not written by esm-onnx convert."""


class UnsupportedError(Error, ValueError):
    """A well-formed checkpoint of an architecture esm-onnx does not handle (MSA Transformer, ESMFold, ...)."""


class FileError(Error, OSError):
    """A file cannot be opened, read, created or written (missing input, unwritable folder, full disk)."""


class RuntimeFailure(Error, RuntimeError):
    """ONNX Runtime failed; the message carries its own."""


class InternalError(Error, RuntimeError):
    """A bug in esm-onnx itself (the message starts with "internal error"): please report it."""


class SkippedRecordWarning(UserWarning):
    """embed_fasta skipped a bad record (strict=False); the message names it and says why."""


WARNINGS = {"skipped": SkippedRecordWarning, "notice": UserWarning}


def warn_message(kind: str, text: str) -> None:
    """A job's message as the library types it (esm_onnx/base/message.h): a skipped record as a SkippedRecordWarning, a
    notice as a UserWarning; steps and progress are the CLI's lines, not warnings."""
    import warnings

    if kind in WARNINGS:
        warnings.warn(text, WARNINGS[kind], stacklevel=3)


ALL = {c.__name__: c for c in (Error, UsageError, InputError, FormatError, UnsupportedError, FileError, RuntimeFailure,
                               InternalError)}
