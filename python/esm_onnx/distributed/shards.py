"""Splitting FASTA inputs into shards: byte ranges of whole records, named after their file, so that a
finished shard's output part is recognised on a rerun and memory per worker is bounded by the shard."""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import pathlib

from .._errors import FileError, InputError, UsageError

FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas", ".fna", ".fasta.txt")


@dataclasses.dataclass(frozen=True)
class Shard:
    path: str         # the FASTA file
    start: int        # byte offset of the shard's first header
    end: int          # byte offset just past its last record
    first_line: int   # 1-based line of the first header
    first_index: int  # 0-based position of its first record in the file
    records: int
    name: str         # "<file stem>.<shard number, 6 digits>": the output part's name
    digest: str = ""  # SHA-256 of the shard's bytes: a part made from other bytes is not this shard's

    def as_row(self) -> dict:
        return dataclasses.asdict(self)


def expand_inputs(inputs: list[str]) -> list[pathlib.Path]:
    """Files as given, folders as their FASTA files, globs as what they match; sorted within each item."""
    files: list[pathlib.Path] = []
    for item in inputs:
        p = pathlib.Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(FASTA_SUFFIXES))
            if not found:
                raise UsageError(f"{item}: a folder without FASTA files ({', '.join(FASTA_SUFFIXES)})")
            files += found
        elif p.is_file():
            files.append(p)
        elif any(c in item for c in "*?["):
            found = sorted(pathlib.Path(f) for f in glob.glob(item, recursive=True) if os.path.isfile(f))
            if not found:
                raise UsageError(f"{item}: the pattern matches no file")
            files += found
        else:
            raise FileError(f"{item}: no such file or folder")
    resolved = [f.resolve() for f in files]
    if len(set(resolved)) != len(resolved):
        raise UsageError("inputs: a file is named twice; each record would be embedded twice")
    stems: dict[str, pathlib.Path] = {}
    for f in resolved:
        if f.name in stems:
            raise UsageError(f"inputs: {stems[f.name]} and {f} have the same file name, and output parts are named "
                             "after it; rename one")
        stems[f.name] = f
    return resolved


def scan(path: pathlib.Path, records_per_shard: int) -> list[Shard]:
    """The shards of one FASTA file, found by one pass over its header lines."""
    if records_per_shard <= 0:
        raise UsageError(f"--shard-records {records_per_shard}: must be positive")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: empty file, not FASTA")
    shards: list[Shard] = []
    start = start_line = start_index = count = 0
    index = 0
    seen_header = False
    offset = 0
    digest = hashlib.sha256()
    with open(path, "rb", buffering=1 << 20) as f:
        for line_no, line in enumerate(f, 1):
            if line.startswith(b">"):
                if not seen_header:
                    seen_header = True
                    start, start_line = offset, line_no
                elif count == records_per_shard:
                    shards.append(Shard(str(path), start, offset, start_line, start_index, count,
                                        f"{path.name}.{len(shards):06d}", digest.hexdigest()))
                    start, start_line, start_index, count = offset, line_no, index, 0
                    digest = hashlib.sha256()
                count += 1
                index += 1
            elif not seen_header and line.strip():
                raise InputError(f"{path}: not a FASTA file: line {line_no} comes before any '>' header line")
            if seen_header:
                digest.update(line)
            offset += len(line)
    if not seen_header:
        raise InputError(f"{path}: no '>' header line: not FASTA")
    shards.append(Shard(str(path), start, offset, start_line, start_index, count, f"{path.name}.{len(shards):06d}",
                        digest.hexdigest()))
    return shards


def shard_digest(data: bytes) -> str:
    """The digest scan() gives the shard made of these bytes."""
    return hashlib.sha256(data).hexdigest()


def copy_shard(shard: dict, folder: pathlib.Path) -> tuple[pathlib.Path, str]:
    """A worker's copy of its shard: the bytes as `folder/<name>.fasta`, and their digest (when the file changed
    since the driver scanned it, the part says so and the next run redoes it)."""
    fasta = folder / f"{shard['name']}.fasta"
    with open(shard["path"], "rb") as src:
        src.seek(int(shard["start"]))
        data = src.read(int(shard["end"]) - int(shard["start"]))
    fasta.write_bytes(data)
    return fasta, shard_digest(data)
