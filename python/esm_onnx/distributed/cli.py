"""`esm-onnx-ray embed MODEL.onnx INPUTS... OUTDIR`, `esm-onnx-ray score MODEL.onnx INPUTS... OUTDIR` and
`esm-onnx-ray fold ESMFOLD.onnx INPUTS... OUTDIR`: the distributed embed, every-missense-variant and folding jobs
on Ray."""
from __future__ import annotations

import argparse
import sys

from .. import _core
from .._options import Tiling, add_arguments, spec
from .._errors import Error, FileError, InputError, InternalError, UsageError

EXIT: dict[str, int] = dict(_core.EXIT_CODES)  # the CLI's exit codes, one home (tools/esm-onnx/cli.h)


# The options both Ray jobs share with the CLI, declared in the library's table (esm_onnx/base/option_specs.h).
SHARED = ("engine", "compute", "toks_per_batch", "long_sequences", "tile_length", "tile_overlap", "tile_sharpness",
          "progress")
RAY_NOTES = {"compute": "said explicitly with openvino: workers on other CPUs must compute alike"}


def _tiling(a: argparse.Namespace) -> Tiling:
    return Tiling(a.tile_length or None, a.tile_overlap, a.tile_sharpness)


def parser() -> argparse.ArgumentParser:
    """esm-onnx-ray's command line: its own arguments, and the shared ones from the library's table."""
    ap = argparse.ArgumentParser(prog="esm-onnx-ray", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="embed FASTA files into OUTDIR with a pool of Ray actors")
    e.add_argument("model", help="ONNX model from esm-onnx convert")
    e.add_argument("paths", nargs="+", metavar="INPUTS... OUTDIR", help="FASTA files, folders or globs, then OUTDIR")
    include = spec("include", "embed")
    e.add_argument(*include["flags"], nargs="+", default=[include["default"]], help=include["help"])
    e.add_argument("--repr-layers", nargs="+", type=int, help="fair-esm numbering; default: every exported layer")
    e.add_argument("--format", default="parquet", choices=["parquet", "npz", "pt"])
    e.add_argument("--workers", type=int, default=1, help="Ray actors, each holding the model once")
    e.add_argument("--threads-per-worker", type=int, default=1, help="engine threads (and Ray CPUs) per actor")
    e.add_argument("--address", help="join this Ray cluster (host:port or auto); default: start Ray here")
    add_arguments(e, "embed", SHARED + ("truncation_seq_length",), notes=RAY_NOTES)
    e.add_argument("--shard-records", type=int, default=2048, help="records per shard (and per output part)")
    s = sub.add_parser("score", help="score every missense variant of FASTA files' proteins into OUTDIR (esm-variants' "
                                     "job) with a pool of Ray actors")
    s.add_argument("model", help="ONNX model with logits from esm-onnx convert")
    s.add_argument("paths", nargs="+", metavar="INPUTS... OUTDIR", help="FASTA files, folders or globs, then OUTDIR")
    s.add_argument("--workers", type=int, default=1, help="Ray actors, each holding the model once")
    s.add_argument("--threads-per-worker", type=int, default=1, help="engine threads (and Ray CPUs) per actor")
    s.add_argument("--address", help="join this Ray cluster (host:port or auto); default: start Ray here")
    add_arguments(s, "score", SHARED, notes=RAY_NOTES)
    s.add_argument("--shard-records", type=int, default=256, help="proteins per shard (and per output part)")
    f = sub.add_parser("fold", help="fold FASTA files' records (ESMFold) into OUTDIR with a pool of Ray actors")
    f.add_argument("model", help="folding model from esm-onnx convert of an ESMFold checkpoint (its stem beside it)")
    f.add_argument("paths", nargs="+", metavar="INPUTS... OUTDIR", help="FASTA files, folders or globs, then OUTDIR")
    f.add_argument("--workers", type=int, default=1, help="Ray actors, each holding the model once")
    f.add_argument("--threads-per-worker", type=int, default=1, help="engine threads (and Ray CPUs) per actor")
    f.add_argument("--address", help="join this Ray cluster (host:port or auto); default: start Ray here")
    add_arguments(f, "fold", ("num_recycles", "chunk_size", "max_tokens_per_batch", "progress"))
    f.add_argument("--shard-records", type=int, default=64, help="records per shard (and per summary part)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if len(a.paths) < 2:
        ap.error(f"{a.command} needs at least one input and OUTDIR")
    from . import embed, fold, score

    try:
        if a.command == "fold":
            m = fold(a.model, a.paths[:-1], a.paths[-1], workers=a.workers, threads_per_worker=a.threads_per_worker,
                     address=a.address, num_recycles=a.num_recycles, chunk_size=a.chunk_size,
                     max_tokens_per_batch=a.max_tokens_per_batch, shard_records=a.shard_records,
                     progress=a.progress)
        elif a.command == "score":
            m = score(a.model, a.paths[:-1], a.paths[-1], workers=a.workers, threads_per_worker=a.threads_per_worker,
                      address=a.address, toks_per_batch=a.toks_per_batch, long_sequences=a.long_sequences,
                      tiling=_tiling(a), shard_records=a.shard_records, progress=a.progress, engine=a.engine,
                      compute=a.compute)
        else:
            m = embed(a.model, a.paths[:-1], a.paths[-1], include=a.include, repr_layers=a.repr_layers,
                      format=a.format, workers=a.workers, threads_per_worker=a.threads_per_worker, address=a.address,
                      toks_per_batch=a.toks_per_batch, truncation_seq_length=a.truncation_seq_length,
                      shard_records=a.shard_records, progress=a.progress, engine=a.engine, compute=a.compute,
                      long_sequences=a.long_sequences, tiling=_tiling(a))
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT["usage"]
    except InternalError as err:
        print(f"{err}", file=sys.stderr)
        return EXIT["internal"]
    except (FileError, InputError, Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT["error"]
    except Exception as err:  # noqa: BLE001 - Ray's own failures (a worker that cannot start, a lost cluster)
        print(f"error: the Ray run failed ({type(err).__name__}): {err}", file=sys.stderr)
        return EXIT["error"]
    return EXIT["skipped"] if m["skipped"] else EXIT["ok"]


if __name__ == "__main__":
    sys.exit(main())
