"""`esm-onnx-ray embed MODEL.onnx INPUTS... OUTDIR` and `esm-onnx-ray score MODEL.onnx INPUTS... OUTDIR`: the
distributed embed and every-missense-variant jobs on Ray."""
from __future__ import annotations

import argparse
import sys

from .. import DEFAULTS as _DEFAULTS
from .. import outputs
from .._score import SCORE_TOKS_PER_BATCH
from .. import _core
from .._errors import Error, FileError, InputError, InternalError, UsageError

EXIT: dict[str, int] = dict(_core.EXIT_CODES)  # the CLI's exit codes, one home (tools/esm-onnx/cli.h)


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
    e.add_argument("--truncation-seq-length", type=int, default=_DEFAULTS["truncation_seq_length"],
                   help="residues kept per record (0: none); default 1022 with truncate, none with tile and full")
    e.add_argument("--long-sequences", choices=["truncate", "tile", "full"],
                   help="records longer than one pass takes (default: the model's; ESM C tiles, the others truncate)")
    e.add_argument("--tile-length", type=int, help="residues per tile (default: the model's)")
    e.add_argument("--tile-overlap", type=int, default=512)
    e.add_argument("--tile-sharpness", type=float, default=20.0)
    e.add_argument("--shard-records", type=int, default=2048, help="records per shard (and per output part)")
    e.add_argument("--no-progress", action="store_true")
    s = sub.add_parser("score", help="score every missense variant of FASTA files' proteins into OUTDIR (esm-variants' "
                                     "job) with a pool of Ray actors")
    s.add_argument("model", help="ONNX model with logits from esm-onnx convert")
    s.add_argument("paths", nargs="+", metavar="INPUTS... OUTDIR", help="FASTA files, folders or globs, then OUTDIR")
    s.add_argument("--workers", type=int, default=1, help="Ray actors, each holding the model once")
    s.add_argument("--threads-per-worker", type=int, default=1, help="engine threads (and Ray CPUs) per actor")
    s.add_argument("--engine", default="ort", help="ort or openvino (graphs from convert --engine openvino)")
    s.add_argument("--compute", default="auto", help="openvino: bf16 or fp32, said explicitly (workers may differ)")
    s.add_argument("--address", help="join this Ray cluster (host:port or auto); default: start Ray here")
    s.add_argument("--toks-per-batch", type=int, default=SCORE_TOKS_PER_BATCH)
    s.add_argument("--long-sequences", default="tile", choices=["tile", "full"])
    s.add_argument("--tile-length", type=int, help="residues per tile (default: the model's)")
    s.add_argument("--tile-overlap", type=int, default=512)
    s.add_argument("--tile-sharpness", type=float, default=20.0)
    s.add_argument("--shard-records", type=int, default=256, help="proteins per shard (and per output part)")
    s.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if len(a.paths) < 2:
        ap.error(f"{a.command} needs at least one input and OUTDIR")
    from . import embed, score

    try:
        if a.command == "score":
            m = score(a.model, a.paths[:-1], a.paths[-1], workers=a.workers, threads_per_worker=a.threads_per_worker,
                      address=a.address, toks_per_batch=a.toks_per_batch, long_sequences=a.long_sequences,
                      tile_length=a.tile_length, tile_overlap=a.tile_overlap, tile_sharpness=a.tile_sharpness,
                      shard_records=a.shard_records, progress=not a.no_progress, engine=a.engine, compute=a.compute)
        else:
            m = embed(a.model, a.paths[:-1], a.paths[-1], include=a.include, repr_layers=a.repr_layers,
                      format=a.format, workers=a.workers, threads_per_worker=a.threads_per_worker, address=a.address,
                      toks_per_batch=a.toks_per_batch, truncation_seq_length=a.truncation_seq_length,
                      shard_records=a.shard_records, progress=not a.no_progress, engine=a.engine, compute=a.compute,
                      long_sequences=a.long_sequences, tile_length=a.tile_length, tile_overlap=a.tile_overlap,
                      tile_sharpness=a.tile_sharpness)
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
