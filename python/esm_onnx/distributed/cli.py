"""`esm-onnx-ray embed MODEL.onnx INPUTS... OUTDIR`: the distributed embed job on Ray."""
from __future__ import annotations

import argparse
import sys

from .. import DEFAULTS as _DEFAULTS
from .. import outputs
from .._errors import Error, FileError, InputError, UsageError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="esm-onnx-ray", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="embed FASTA files into OUTDIR with a pool of Ray actors")
    e.add_argument("model", help="ONNX model from esm-onnx convert")
    e.add_argument("paths", nargs="+", metavar="INPUTS... OUTDIR", help="FASTA files, folders or globs, then OUTDIR")
    e.add_argument("--include", nargs="+", default=["mean"],
                   help="any of " + " ".join(o["name"] for o in outputs()))
    e.add_argument("--repr-layers", nargs="+", type=int, help="fair-esm numbering; default: every exported layer")
    e.add_argument("--format", default="parquet", choices=["parquet", "npz", "pt"])
    e.add_argument("--workers", type=int, default=1, help="Ray actors, each holding the model once")
    e.add_argument("--threads-per-worker", type=int, default=1, help="engine threads (and Ray CPUs) per actor")
    e.add_argument("--engine", default="ort", help="ort or openvino (graphs from convert --engine openvino)")
    e.add_argument("--compute", default="auto", help="openvino: bf16 or fp32, said explicitly (workers may differ)")
    e.add_argument("--address", help="join this Ray cluster (host:port or auto); default: start Ray here")
    e.add_argument("--toks-per-batch", type=int, default=_DEFAULTS["toks_per_batch"])
    e.add_argument("--truncation-seq-length", type=int, default=_DEFAULTS["truncation_seq_length"])
    e.add_argument("--shard-records", type=int, default=2048, help="records per shard (and per output part)")
    e.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if len(a.paths) < 2:
        ap.error("embed needs at least one input and OUTDIR")
    from . import embed

    try:
        m = embed(a.model, a.paths[:-1], a.paths[-1], include=a.include, repr_layers=a.repr_layers, format=a.format,
                  workers=a.workers, threads_per_worker=a.threads_per_worker, address=a.address,
                  toks_per_batch=a.toks_per_batch, truncation_seq_length=a.truncation_seq_length,
                  shard_records=a.shard_records, progress=not a.no_progress, engine=a.engine, compute=a.compute)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (FileError, InputError, Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - Ray's own failures (a worker that cannot start, a lost cluster)
        print(f"error: the Ray run failed ({type(err).__name__}): {err}", file=sys.stderr)
        return 1
    return 3 if m["skipped"] else 0


if __name__ == "__main__":
    sys.exit(main())
