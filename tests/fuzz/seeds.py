"""Seed corpora for `make fuzz`: small real inputs of each format, made with fair-esm and esm-onnx's tests.

python tests/fuzz/seeds.py OUTDIR  ->  OUTDIR/<target>/<seed files>
"""
from __future__ import annotations

import json
import pathlib
import shutil
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> None:
    import esm_checkpoints

    out = pathlib.Path(sys.argv[1])
    for target in ("pickle", "torch_file", "checkpoint", "safetensors", "fasta", "metadata", "onnx_header",
                   "transformers_config", "labels", "dms"):
        (out / target).mkdir(parents=True, exist_ok=True)
    work = out / "_checkpoints"
    for family in ("esm2", "esm1b", "esm1"):
        for legacy in (False, True):
            name = f"{family}_t1_8_{'legacy' if legacy else 'zip'}.pt"
            path = esm_checkpoints.save_checkpoint(family, 1, 8, 2, work / name, legacy=legacy, contacts=False, seed=3)
            for target in ("torch_file", "checkpoint"):
                shutil.copy(path, out / target / name)
            if not legacy:
                with zipfile.ZipFile(path) as z:
                    pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
                    (out / "pickle" / f"{family}.pkl").write_bytes(z.read(pkl))
    # safetensors files as transformers writes them, and as the hub serves them (4.x names).
    import hf_checkpoints

    for layout in ("save_pretrained", "hub"):
        folder = hf_checkpoints.save(hf_checkpoints.build("EsmForMaskedLM", layers=1, dim=8, heads=2, seed=3),
                                     work / f"hf_{layout}", layout)
        shutil.copy(folder / "model.safetensors", out / "safetensors" / f"esm2_{layout}.safetensors")
    # config.json of every head as transformers writes it, one with a sharded index after a NUL byte.
    for head in ("EsmForMaskedLM", "EsmForSequenceClassification", "EsmForTokenClassification", "EsmModel"):
        folder = hf_checkpoints.save(hf_checkpoints.build(head, layers=1, dim=8, heads=2, seed=3), work / f"cfg_{head}")
        (out / "transformers_config" / f"{head}.json").write_bytes((folder / "config.json").read_bytes())
    folder = work / "cfg_EsmForMaskedLM"
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        names = list(f.keys())
    index = {"metadata": {"total_size": 1}, "weight_map": {n: f"model-0000{1 + i % 2}-of-00002.safetensors"
                                                           for i, n in enumerate(names)}}
    (out / "transformers_config" / "sharded.json").write_bytes(
        (folder / "config.json").read_bytes() + b"\0" + json.dumps(index).encode())
    # Labels as FASTA headers have them, and the forms that name one file twice.
    for i, label in enumerate(["sp|P69905|HBA_HUMAN Hemoglobin", "p/q", "./x", "p//q", "a/./b", ".partial/h-1/x",
                               "x" * 300, "UniRef50_A0A0~0123456789abcdef", "a/../b", "seqnum000000001"]):
        (out / "labels" / f"l{i}").write_text(label)
    # Deep mutational scans as ProteinGym and pandas write them: a BOM, an index column, quotes, CRLF, multi-mutants.
    (out / "dms" / "proteingym.csv").write_bytes(b"\xef\xbb\xbf,mutant,DMS_score\r\n0,M1A,0.5\r\n1,\"K2R:T3W\",-1\r\n")
    (out / "dms" / "quoted.csv").write_text('mutant,note\nA4C,"a, ""b"" \nc"\nX0Y,\nY5F:Q9K:R10A,z\n')
    for fasta in (ROOT / "tests" / "data" / "parity.fasta", ROOT / "demo" / "example.fasta"):
        shutil.copy(fasta, out / "fasta" / fasta.name)
    (out / "metadata" / "esm2").write_text("\n".join(f"esm_onnx.{k}={v}" for k, v in {
        "format_revision": 1, "family": "ESM-2", "variant": "ESM-2", "alphabet": "ESM-1b", "num_layers": 4,
        "embed_dim": 64, "attention_heads": 4, "vocab_size": 33, "repr_layers": "0,4", "has_contacts": 1,
        "has_logits": 1, "max_tokens": 0, "precision": "fp32", "attention": "explicit", "int4_block": 0,
        "source_file": "x.pt", "source_sha256": "00", "converter_version": "0.1.0", "padding_idx": 1, "cls_idx": 0,
        "eos_idx": 2, "mask_idx": 32, "prepend_bos": 1, "append_eos": 1}.items()) + "\n")
    # The head of a .onnx file: opset imports, metadata and a graph, as onnx writes them.
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["tokens"], ["representations"])], "g",
                              [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["B", "T"])],
                              [helper.make_tensor_value_info("representations", TensorProto.INT64, ["B", "T"])])
    meta = dict(line.split("=", 1) for line in (out / "metadata" / "esm2").read_text().splitlines())
    for name, opsets in (("standard", [("", 17)]), ("microsoft", [("", 17), ("com.microsoft", 1)])):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        onnx.helper.set_model_props(model, meta)
        (out / "onnx_header" / f"{name}.onnx").write_bytes(model.SerializeToString())
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
