"""Splitting FASTA inputs into shards: byte ranges of whole records, named after their file, so that a
finished shard's output part is recognised on a rerun and memory per worker is bounded by the shard."""
from __future__ import annotations

import array
import bisect
import dataclasses
import glob
import hashlib
import json
import os
import pathlib

from .. import _core
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
    digest: str = ""  # SHA-256 of the shard's bytes (+ the records left out): a part made otherwise is not this shard's
    drop: str = ""    # JSON [[index in the shard, reason], ...]: records left out as duplicates of earlier ones

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


def scan(path: pathlib.Path, records_per_shard: int, keys: RecordKeys | None = None) -> list[Shard]:
    """The shards of one FASTA file, found by one pass over its header lines (each header's key noted in `keys`)."""
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
                if keys is not None:
                    keys.add(line, line_no)
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


# How a record is named where its outputs are kept, as the library's jobs name it: embed keys outputs by the
# label (the header after '>', trimmed; "seqnum<0-based line>" when empty, fair-esm's), score by the seq_id (its
# first word, esm-variants'). Each with the reason a later record of the same name is left out, the jobs' own.
KEYS = {
    "label": "duplicate label: an earlier record has the same one, and outputs are keyed by label",
    "seq_id": "duplicate seq_id '{key}': an earlier record has the same first word, and matrices are keyed by it",
}


def record_key(header: bytes, line_no: int, kind: str) -> str:
    """A record's key as the workers' reader makes it (the library's fasta_label and, for seq_id, fasta_id), its
    bytes kept apart as text by surrogateescape: two labels that differ only in bytes that are not UTF-8 differ."""
    label = _core.fasta_label(header.rstrip(b"\n"), line_no)
    key = _core.fasta_id(label) if kind == "seq_id" else label
    return key.decode("utf-8", "surrogateescape")


def _shown(key: str) -> str:
    """A key as messages and reports show it (bytes that are not UTF-8 as U+FFFD)."""
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class RecordKeys:
    """The keys of every record of a run's inputs, in input order, as 8-byte hashes (memory: 8 bytes a record, so
    a driver holds UniRef50's 60 million in 0.5 GB); the few hashes seen twice are resolved to names by a second
    pass over the headers, so a hash collision never drops a record."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.hashes = array.array("Q")

    def _hash(self, key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")

    def add(self, header: bytes, line_no: int) -> None:
        self.hashes.append(self._hash(record_key(header, line_no, self.kind)))

    def mark_duplicates(self, shards: list[Shard]) -> list[Shard]:
        """The shards with `drop` set for every record whose key an earlier record of the inputs has (the first
        one in input order is kept), decided here once for the whole run, before any worker starts."""
        import numpy as np

        hashes = np.frombuffer(self.hashes, dtype=np.uint64) if len(self.hashes) else np.zeros(0, np.uint64)
        values, counts = np.unique(hashes, return_counts=True)
        candidates = set(values[counts > 1].tolist())
        if not candidates:
            return shards
        firsts = [0]
        for s in shards:
            firsts.append(firsts[-1] + s.records)
        first_seen: dict[str, str] = {}
        drops: dict[int, list] = {}
        g = 0
        for path in dict.fromkeys(s.path for s in shards):
            with open(path, "rb", buffering=1 << 20) as f:
                for line_no, line in enumerate(f, 1):
                    if not line.startswith(b">"):
                        continue
                    if int(hashes[g]) in candidates:
                        key = record_key(line, line_no, self.kind)
                        if key in first_seen:
                            k = bisect.bisect_right(firsts, g) - 1
                            reason = KEYS[self.kind].format(key=_shown(key)) + f" ({first_seen[key]})"
                            drops.setdefault(k, []).append([g - firsts[k], reason])
                        else:
                            first_seen[key] = f"first at {path}, line {line_no}"
                    g += 1
        out = []
        for k, s in enumerate(shards):
            if k in drops:
                drop = json.dumps(drops[k])
                s = dataclasses.replace(s, drop=drop, digest=shard_identity(s.digest, drop))
            out.append(s)
        return out


def shard_identity(data_digest: str, drop: str) -> str:
    """A shard's digest: its bytes', and what it leaves out when it does."""
    return data_digest if not drop else data_digest + "+" + hashlib.sha256(drop.encode()).hexdigest()[:16]


def shard_digest(data: bytes) -> str:
    """The digest scan() gives the shard made of these bytes."""
    return hashlib.sha256(data).hexdigest()


def copy_shard(shard: dict, folder: pathlib.Path) -> tuple[pathlib.Path, str, list[tuple[str, int, str]]]:
    """A worker's copy of its shard: the bytes as `folder/<name>.fasta`, their digest (when the file changed since
    the driver scanned it, the part says so and the next run redoes it), and the records the driver left out as
    duplicates, (label, line in the shard, reason): their lines are blanked in the copy, so that every other
    record keeps its line number."""
    fasta = folder / f"{shard['name']}.fasta"
    with open(shard["path"], "rb") as src:
        src.seek(int(shard["start"]))
        data = src.read(int(shard["end"]) - int(shard["start"]))
    drop = str(shard.get("drop") or "")
    dropped: list[tuple[str, int, str]] = []
    if drop:
        reasons = {int(i): str(r) for i, r in json.loads(drop)}
        lines = data.splitlines(keepends=True)
        index, blank = -1, False
        for n, line in enumerate(lines):
            if line.startswith(b">"):
                index += 1
                blank = index in reasons
                if blank:
                    label = _shown(record_key(line, int(shard["first_line"]) + n, "label"))
                    dropped.append((label, n + 1, reasons[index]))
            if blank:
                lines[n] = b"\n"
        copy = b"".join(lines)
    else:
        copy = data
    fasta.write_bytes(copy)
    return fasta, shard_identity(shard_digest(data), drop), dropped


def kept_indices(shard: dict) -> list[int] | None:
    """The indices in the shard of the records its copy holds, in order (None when it holds them all): a record's
    index in the copy -> its index in the shard."""
    drop = str(shard.get("drop") or "")
    if not drop:
        return None
    left_out = {int(i) for i, _ in json.loads(drop)}
    return [i for i in range(int(shard["records"])) if i not in left_out]
