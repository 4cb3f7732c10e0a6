"""fair-esm's ESMFold (esm.esmfold.v1.esmfold.ESMFold) over a converted folding model: `infer`, `infer_pdb`,
`infer_pdbs`, `output_to_pdb`, `set_chunk_size`, and the module methods scripts call (eval, cuda, cpu, half,
float, to). esm.pretrained.esmfold_v1() returns one, the released model fetched as its transformers folder and
converted once into the model cache; ESMFold(path) takes a converted .onnx or an ESMFold checkpoint folder.

infer() returns fair-esm's keys as torch tensors (numpy arrays without torch), over each record's chains'
residues (a multimer's linker rows are not returned), with `positions` as atom37 ([1, B, L, 37, 3]: the last
structure-module iteration's atoms, which is what scripts read as positions[-1]) rather than atom14."""
from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from .._api import Model, cached_model
from .._errors import UsageError
from ._arrays import torch_available, warn_once

DEFAULT_LINKER = "G" * 25


def _out(x: np.ndarray) -> Any:
    if torch_available():
        import torch

        return torch.from_numpy(np.ascontiguousarray(x))
    return x


class _PdbTexts(list):
    """The batch's PDB texts, carried in infer()'s output so that output_to_pdb() returns them; .cpu() and .to()
    keep it as it is (scripts move every value of the output)."""

    def cpu(self) -> _PdbTexts:
        return self

    def to(self, *args: Any, **kwargs: Any) -> _PdbTexts:
        return self

    def numpy(self) -> _PdbTexts:
        return self


class _Stem:
    """model.esm: scripts call model.esm.float() (esm-fold's --cpu-only); the stem's precision is the conversion's."""

    def float(self) -> _Stem:
        return self

    def half(self) -> _Stem:
        return self

    def cpu(self) -> _Stem:
        return self

    def to(self, *args: Any, **kwargs: Any) -> _Stem:
        return self

    def eval(self) -> _Stem:
        return self

    def requires_grad_(self, requires_grad: bool = True) -> _Stem:
        return self


class ESMFold:
    def __init__(self, model: str | os.PathLike[str] | Model, threads: int = 0, device: str = "cpu") -> None:
        if not isinstance(model, Model):
            model = Model(cached_model(model), threads=threads, device=device)
        if not model.is_folding:
            raise UsageError(f"{model.path}: not a folding model (convert an ESMFold checkpoint such as facebook/esmfold_v1)")
        self._model = model
        self._chunk_size: int | None = None
        self.esm = _Stem()

    # torch.nn.Module's methods that scripts call on the model.
    def eval(self) -> ESMFold:
        return self

    def train(self, mode: bool = True) -> ESMFold:
        if mode:
            raise UsageError("ESMFold.train(): esm-onnx runs inference only")
        return self

    def requires_grad_(self, requires_grad: bool = True) -> ESMFold:
        return self

    def cpu(self) -> ESMFold:
        return self

    def float(self) -> ESMFold:
        return self

    def half(self) -> ESMFold:
        warn_once("esmfold-half", "ESMFold.half(): the precision is chosen when the model is converted (esm-onnx convert "
                  "--precision); the model is unchanged")
        return self

    def cuda(self, device: Any = None) -> ESMFold:
        warn_once("esmfold-cuda", "ESMFold.cuda(): the model runs where it was loaded (esm-onnx picks the device at load: "
                  "ESMFold(path, device='cuda')); unchanged")
        return self

    def to(self, *args: Any, **kwargs: Any) -> ESMFold:
        return self

    @property
    def device(self) -> Any:
        if torch_available():
            import torch

            return torch.device("cpu")
        return "cpu"

    def set_chunk_size(self, chunk_size: int | None) -> None:
        """Rows of triangle attention computed at a time (None: bounded automatically; exact at any size)."""
        self._chunk_size = chunk_size

    def infer(self, sequences: str | list[str], residx: Any = None, masking_pattern: Any = None,
              num_recycles: int | None = None, residue_index_offset: int | None = 512,
              chain_linker: str | None = DEFAULT_LINKER) -> dict[str, Any]:
        if residx is not None or masking_pattern is not None:
            raise UsageError("ESMFold.infer: residx and masking_pattern are not supported (residue numbers come from the "
                             "chains: residue_index_offset)")
        seqs = [sequences] if isinstance(sequences, str) else list(sequences)
        folded = self._model.fold(seqs, num_recycles=num_recycles, chunk_size=self._chunk_size,
                                  residue_index_offset=residue_index_offset or 0, chain_linker=chain_linker or "")
        B, L = len(folded), max(f.length for f in folded)
        pos = np.zeros((1, B, L, 37, 3), np.float32)
        exists = np.zeros((B, L, 37), np.float32)
        plddt = np.zeros((B, L, 37), np.float32)
        pae = np.zeros((B, L, L), np.float32)
        disto = np.zeros((B, L, L, 64), np.float32)
        aatype = np.zeros((B, L), np.int64)
        residue_index = np.zeros((B, L), np.int64)
        chain_index = np.zeros((B, L), np.int64)
        for b, f in enumerate(folded):
            n = f.length
            pos[0, b, :n] = f.positions
            exists[b, :n] = f.atom_mask
            plddt[b, :n] = f.plddt_atoms
            pae[b, :n, :n] = f.predicted_aligned_error
            disto[b, :n, :n] = f.distogram_logits
            aatype[b, :n] = f.aatype
            residue_index[b, :n] = f.residue_index
            chain_index[b, :n] = f.chain_index
        out = {
            "positions": _out(pos),
            "atom37_atom_exists": _out(exists),
            "plddt": _out(plddt),
            "mean_plddt": _out(np.array([f.mean_plddt for f in folded], np.float32)),
            "ptm": _out(np.array([f.ptm for f in folded], np.float32)),
            "predicted_aligned_error": _out(pae),
            "max_predicted_aligned_error": _out(np.array([f.max_predicted_aligned_error for f in folded], np.float32)),
            "distogram_logits": _out(disto),
            "aatype": _out(aatype),
            "residue_index": _out(residue_index),
            "chain_index": _out(chain_index),
            "pdb": _PdbTexts(f.pdb for f in folded),
        }
        return out

    @staticmethod
    def output_to_pdb(output: dict[str, Any]) -> list[str]:
        """The PDB texts of an infer() output, as esm-fold writes them."""
        texts = output.get("pdb")
        if not isinstance(texts, list):
            raise UsageError("ESMFold.output_to_pdb: an output of this model's infer() (it carries the PDB texts)")
        return list(texts)

    def infer_pdbs(self, seqs: list[str], *args: Any, **kwargs: Any) -> list[str]:
        return self.output_to_pdb(self.infer(seqs, *args, **kwargs))

    def infer_pdb(self, sequence: str, *args: Any, **kwargs: Any) -> str:
        return self.infer_pdbs([sequence], *args, **kwargs)[0]

    def __repr__(self) -> str:
        return f"ESMFold({self._model.path!r})"


def esmfold_v1() -> ESMFold:
    """fair-esm's esm.pretrained.esmfold_v1(): the released ESMFold (facebook/esmfold_v1), fetched once."""
    return ESMFold("esmfold_v1")


# fair-esm's esm.esmfold.v1.* paths: esm.esmfold.v1.pretrained.esmfold_v1, esm.esmfold.v1.esmfold.ESMFold.
v1 = sys.modules[__name__]
pretrained = v1
