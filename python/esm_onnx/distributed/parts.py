"""Writing one shard's output part: Parquet (columns per output and layer, row groups as batches arrive, so
memory stays bounded by the batch) or the CLI's per-record npz files. Every file appears under its final
name only when complete; and since storage without atomic renames, a full disk or a changed input can still
leave a part that is not this run's, a part counts as done only when it is verified (part_is_done): its
summary readable and made from the same bytes of the input with the same options, a Parquet part readable
with as many rows as the summary says were written, and the same fingerprint and options in its metadata."""
from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any

import numpy as np

ROW_GROUP_RECORDS = 256


def part_path(outdir: pathlib.Path, name: str, fmt: str) -> pathlib.Path:
    return outdir / "parts" / (f"{name}.parquet" if fmt == "parquet" else f"{name}.done.json")


def summary_path(outdir: pathlib.Path, name: str) -> pathlib.Path:
    return outdir / "parts" / f"{name}.summary.json"


def publish(tmp: pathlib.Path, path: pathlib.Path) -> None:
    """`tmp` renamed over `path` by the library's rule for every output (a regular file or nothing is replaced;
    a device, FIFO, socket or folder there is refused with a FileError)."""
    from .. import _core

    _core.publish(str(tmp), str(path), "")


def write_atomic(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish(tmp, path)


def _columns(include: list[str], layers: list[int]) -> list[tuple[str, dict, int | None]]:
    """(column, output spec, layer): a column per layer of a per-layer output, one for each other output,
    in the registry's order."""
    import esm_onnx

    cols = []
    for spec in esm_onnx.outputs():
        if spec["name"] not in include:
            continue
        if spec["per_layer"]:
            cols += [(f"{spec['name']}_{l}", spec, l) for l in layers]
        else:
            cols.append((spec["name"], spec, None))
    return cols


def _dims(spec: dict, embed_dim: int, vocab: int) -> tuple[int, int | None]:
    """The rank of a record's array and the fixed width of its last axis (None when it varies), read from the
    registry's shape: "[L, E]" -> (2, embed_dim)."""
    dims = [d.strip() for d in spec["shape"].split("]")[0].strip("[").split(",")]
    return len(dims), {"E": embed_dim, "vocab": vocab}.get(dims[-1])


def _nested(rows: list[np.ndarray], rank: int, width: int | None):
    """Arrays of one rank as nested Arrow lists, the innermost fixed-size when `width` is known."""
    import pyarrow as pa

    values = np.concatenate([r.reshape(-1) for r in rows]).astype(np.float32) if rows else np.zeros(0, np.float32)
    arr = pa.array(values, pa.float32())
    for axis in range(rank - 1, -1, -1):
        if axis == rank - 1 and width is not None:
            arr = pa.FixedSizeListArray.from_arrays(arr, width)
            continue
        lengths = [np.full(int(np.prod(r.shape[:axis])), r.shape[axis], np.int64) for r in rows]
        offsets = np.zeros(sum(len(x) for x in lengths) + 1, np.int32)
        if len(offsets) > 1:
            offsets[1:] = np.cumsum(np.concatenate(lengths))
        arr = pa.ListArray.from_arrays(pa.array(offsets), arr)
    return arr


def _arrow_type(rank: int, width: int | None):
    import pyarrow as pa

    t = pa.list_(pa.float32(), width) if width is not None else pa.list_(pa.float32())
    for _ in range(rank - 1):
        t = pa.list_(t)
    return t


def arrow_table(embeddings: list[Any], include: list[str], layers: list[int]):
    """Rows: label, index (position in the input file), length, then one column per output (and layer for the
    per-layer outputs): mean_<l> / bos_<l> fixed-size lists of float32, per_tok_<l> and logits lists of them,
    contacts and attentions nested lists."""
    import pyarrow as pa

    cols: dict[str, Any] = {
        "label": pa.array([e.label for e in embeddings], pa.string()),
        "index": pa.array([e.index for e in embeddings], pa.int64()),
        "length": pa.array([e.length for e in embeddings], pa.int32()),
    }
    for name, spec, layer in _columns(include, layers):
        values = [e.outputs[spec["name"]] for e in embeddings]
        rows = [v[layer] for v in values] if spec["per_layer"] else values
        rank, fixed = _dims(spec, 1, 1)
        cols[name] = _nested(rows, rank, rows[0].shape[-1] if rows and fixed is not None else None)
    return pa.table(cols)


def arrow_schema(include: list[str], layers: list[int], embed_dim: int, vocab: int):
    """The parts' schema, the same for every part of a run (an empty part too)."""
    import pyarrow as pa

    fields = [pa.field("label", pa.string()), pa.field("index", pa.int64()), pa.field("length", pa.int32())]
    for name, spec, _ in _columns(include, layers):
        fields.append(pa.field(name, _arrow_type(*_dims(spec, embed_dim, vocab))))
    return pa.schema(fields)


META_KEY = b"esm_onnx.part"


def part_identity(digest: str, options: dict) -> dict:
    """What a part is made from: the shard's bytes and the run's options."""
    return {"input_sha256": digest, "options": options}


def part_is_done(outdir: pathlib.Path, name: str, digest: str, options: dict) -> tuple[bool, str]:
    """(done, why not): whether the part `name` is this shard's finished output."""
    fmt = options["format"]
    path = part_path(outdir, name, fmt)
    if not path.exists():
        return False, "not written"
    try:
        summary = read_summary(outdir, name)
    except (OSError, ValueError) as e:
        return False, f"its summary cannot be read ({e})"
    want = part_identity(digest, options)
    if summary.get("input_sha256") != digest:
        return False, "it was made from other bytes of the input (the FASTA file changed)"
    if summary.get("options") != options:
        return False, "it was made with other options"
    if fmt != "parquet":
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as e:
            return False, f"its marker cannot be read ({e})"
        return True, ""
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        rows = meta.num_rows
        kv = meta.metadata or {}
        identity = json.loads(kv.get(META_KEY, b"null"))
    except Exception as e:  # pyarrow raises several kinds for a damaged file
        return False, f"it cannot be read ({e})"
    if rows != int(summary.get("written", -1)):
        return False, f"it holds {rows} rows, its summary says {summary.get('written')} were written"
    if identity != want:
        return False, "its metadata names other input bytes or options"
    return True, ""


def remove_part(outdir: pathlib.Path, name: str, fmt: str) -> None:
    part_path(outdir, name, fmt).unlink(missing_ok=True)
    summary_path(outdir, name).unlink(missing_ok=True)


class ParquetPart:
    """One shard's Parquet file, written a row group at a time under a temporary name."""

    def __init__(self, path: pathlib.Path, include: list[str], layers: list[int], schema: Any,
                 identity: dict | None = None):
        import pyarrow.parquet as pq

        if identity is not None:
            schema = schema.with_metadata({**(schema.metadata or {}), META_KEY: json.dumps(identity).encode()})
        self.path, self.include, self.layers, self.schema = path, include, layers, schema
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema)
        self.pending: list[Any] = []

    def add(self, embedding: Any) -> None:
        self.pending.append(embedding)
        if len(self.pending) >= ROW_GROUP_RECORDS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.writer.write_table(arrow_table(self.pending, self.include, self.layers).cast(self.schema))
        self.pending = []

    def finish(self) -> None:
        """Writes what is pending and closes the file, still under its temporary name."""
        self.flush()
        self.writer.close()

    def commit(self) -> None:
        """The finished file under its own name: from here on the shard counts as done."""
        publish(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer.is_open:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


def read_summary(outdir: pathlib.Path, name: str) -> dict:
    return json.loads(summary_path(outdir, name).read_text())
