"""Embeddings for millions of proteins across many machines, on Ray Data.

    from esm_onnx import distributed
    summary = distributed.embed("esm2.onnx", ["uniref50.fasta"], "out/", include=("mean",), workers=8,
                                threads_per_worker=4, address="auto")

The inputs are cut into shards of whole records (byte ranges of the FASTA files); a pool of Ray actors, each
holding the model once, embeds a shard at a time into its own output part, written under a temporary name
and renamed when complete. A rerun skips the parts already there, so a crashed or killed run resumes where
it stopped; a killed worker is restarted by Ray and its shard redone, never duplicated. OUTDIR holds:

- parts/<file>.<shard>.parquet (format "parquet"): columns label, index, length, mean_<layer> ...; or
  records/<label>.npz (format "npz"/"pt"), the files `esm-onnx embed` writes;
- skipped.tsv: every record not embedded (file, label, line, reason);
- run.json: the model's SHA-256 and the options; a rerun with another model or other options is refused;
- manifest.json: inputs, model, options and counts, written when the run is complete.

`score` (esm-variants' every-missense-variant job) and `fold` (ESMFold's structures) share the driver; their
modules say what their OUTDIRs hold.
"""
from __future__ import annotations

from .embed import FORMATS, embed
from .fold import fold
from .score import score

__all__ = ["embed", "score", "fold", "FORMATS"]
