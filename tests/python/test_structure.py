"""Protein geometry (esm_onnx/base/structure.h through _core.structure_*) against the reference, live: transformers'
vendored openfold (residue_constants, feats, rigid_utils, loss, protein.to_pdb, the version fair-esm pins) and
modeling_esmfold (the trunk's recycling distogram, categorical_lddt), on random inputs with fixed seeds."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import esm_onnx
from esm_onnx import _core

from transformers.models.esm import modeling_esmfold
from transformers.models.esm.openfold_utils import data_transforms, feats, loss, protein
from transformers.models.esm.openfold_utils import residue_constants as rc
from transformers.models.esm.openfold_utils.rigid_utils import Rigid, Rotation

POSITION_TOL = 1e-4  # Angstrom
PTM_TOL = 1e-6
PAE_TOL = 1e-5
PLDDT_TOL = 1e-4  # on 0..100


def atom14_masks(types: np.ndarray) -> dict[str, np.ndarray]:
    """The per-residue atom14/atom37 maps as ESMFold builds them (data_transforms.make_atom14_masks)."""
    out = data_transforms.make_atom14_masks({"aatype": torch.as_tensor(types)})
    return {k: v.numpy() for k, v in out.items() if k != "aatype"}


def random_types(rng: np.random.Generator, n: int) -> np.ndarray:
    """Every residue type (X included) at least once, then random ones, shuffled."""
    types = np.concatenate([np.arange(21), rng.integers(0, 21, n - 21)])
    rng.shuffle(types)
    return types.astype(np.int64)


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rotation matrices of random unit quaternions, through openfold's own quaternion-to-matrix conversion."""
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return Rotation(quats=torch.tensor(q, dtype=torch.float32)).get_rot_mats().numpy()


def random_angles(rng: np.random.Generator, n: int, normalised: bool = True) -> np.ndarray:
    theta = rng.uniform(-np.pi, np.pi, size=(n, 7))
    angles = np.stack([np.sin(theta), np.cos(theta)], axis=-1)
    if not normalised:
        angles *= rng.uniform(0.5, 1.5, size=(n, 7, 1))
    return angles.astype(np.float32)


def reference_atom14(rot: np.ndarray, trans: np.ndarray, angles: np.ndarray, types: np.ndarray) -> np.ndarray:
    """feats.torsion_angles_to_frames + frames_and_literature_positions_to_atom14_pos, with the residue-constant
    tensors as EsmFoldStructureModule._init_residue_constants builds them (float32; group index as int64)."""
    default_frames = torch.tensor(rc.restype_rigid_group_default_frame, dtype=torch.float32)
    group_idx = torch.tensor(rc.restype_atom14_to_rigid_group)
    atom_mask = torch.tensor(rc.restype_atom14_mask, dtype=torch.float32)
    lit_positions = torch.tensor(rc.restype_atom14_rigid_group_positions, dtype=torch.float32)
    r = Rigid(Rotation(rot_mats=torch.tensor(rot)), torch.tensor(trans))
    aatype = torch.tensor(types)
    frames = feats.torsion_angles_to_frames(r, torch.tensor(angles), aatype, default_frames)
    return feats.frames_and_literature_positions_to_atom14_pos(
        frames, aatype, default_frames, group_idx, atom_mask, lit_positions
    ).numpy()


# --- residue tables -------------------------------------------------------------------------------------------


def test_residue_tables_match_residue_constants():
    t = _core.structure_residue_tables()
    maps = atom14_masks(np.arange(21))
    expected = {
        "default_frames": (rc.restype_rigid_group_default_frame, np.float32),
        "atom14_group": (rc.restype_atom14_to_rigid_group, np.int64),
        "atom14_mask": (rc.restype_atom14_mask, np.float32),
        "atom14_positions": (rc.restype_atom14_rigid_group_positions, np.float32),
        "atom14_to_atom37": (maps["residx_atom14_to_atom37"], np.int64),
        "atom37_to_atom14": (maps["residx_atom37_to_atom14"], np.int64),
        "atom37_mask": (maps["atom37_atom_exists"], np.float32),
    }
    assert sorted(t) == sorted(expected)
    for name, (want, dtype) in expected.items():
        have = t[name]
        assert have.dtype == dtype, name
        assert have.shape == want.shape, name
        if name == "default_frames":
            # Built in float64 like numpy, then stored as float32; BLAS's dot may round the last double bit
            # differently, which float32 almost never sees.
            np.testing.assert_allclose(have, want, rtol=0, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(have, want, err_msg=name)
    # The same atoms by the other two routes AlphaFold has to them.
    np.testing.assert_array_equal(t["atom14_mask"], maps["atom14_atom_exists"])
    np.testing.assert_array_equal(t["atom37_mask"], rc.restype_atom37_mask)
    np.testing.assert_array_equal(t["atom37_mask"][:20], rc.STANDARD_ATOM_MASK[:20])


def test_names_and_residue_types():
    assert _core.structure_atom37_names() == rc.atom_types
    assert _core.STRUCTURE_RESIDUE_ORDER == "".join(rc.restypes)
    for i, letter in enumerate(rc.restypes_with_x):
        assert _core.structure_residue_type(letter) == i
        assert _core.structure_residue_name3(i) == rc.restype_1to3.get(letter, "UNK")
    for other in "BZUOJ*-a\0":
        assert _core.structure_residue_type(other) == 20
    with pytest.raises(esm_onnx.InputError, match="residue type 21"):
        _core.structure_residue_name3(21)


# --- frames and torsions to atoms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("normalised", [True, False])
def test_atom14_positions_match_openfold(normalised):
    rng = np.random.default_rng(1234 + normalised)
    n = 96
    types = random_types(rng, n)
    rot = random_rotations(rng, n)
    trans = rng.uniform(-60, 60, size=(n, 3)).astype(np.float32)
    angles = random_angles(rng, n, normalised)
    have = _core.structure_atom14_positions(rot, trans, angles, types)
    want = reference_atom14(rot, trans, angles, types)
    assert have.dtype == np.float32 and have.shape == (n, 14, 3)
    np.testing.assert_allclose(have, want, rtol=0, atol=POSITION_TOL)
    # Absent atoms (X's all 14, ALA's 9, ...) are zeros, as the reference's masked product.
    absent = _core.structure_residue_tables()["atom14_mask"][types] == 0
    assert np.all(have[absent] == 0)


def test_atom14_positions_empty_and_bad_shapes():
    z = np.zeros
    assert _core.structure_atom14_positions(z((0, 3, 3), np.float32), z((0, 3), np.float32), z((0, 7, 2), np.float32),
                                            z(0, np.int64)).shape == (0, 14, 3)
    good = dict(rotations=z((2, 3, 3), np.float32), translations=z((2, 3), np.float32),
                angles=z((2, 7, 2), np.float32), types=z(2, np.int64))
    for arg, bad in [("rotations", z((2, 9), np.float32)), ("translations", z((3, 3), np.float32)),
                     ("angles", z((2, 8, 2), np.float32)), ("types", z((2, 1), np.int64))]:
        with pytest.raises(esm_onnx.UsageError, match=f"structure_atom14_positions: {arg} has"):
            _core.structure_atom14_positions(**{**good, arg: bad})
    with pytest.raises(esm_onnx.InputError, match=r"types\[1\] = 21"):
        _core.structure_atom14_positions(**{**good, "types": np.array([0, 21], np.int64)})


def test_atom14_to_atom37_matches_openfold():
    rng = np.random.default_rng(7)
    n = 80
    types = random_types(rng, n)
    atom14 = rng.uniform(-100, 100, size=(n, 14, 3)).astype(np.float32)
    have = _core.structure_atom14_to_atom37(atom14, types)
    batch = {k: torch.tensor(v) for k, v in atom14_masks(types).items()}
    want = feats.atom14_to_atom37(torch.tensor(atom14), batch).numpy()
    assert have.dtype == np.float32 and have.shape == (n, 37, 3)
    np.testing.assert_array_equal(have, want)
    with pytest.raises(esm_onnx.UsageError, match="structure_atom14_to_atom37: atom14 has shape"):
        _core.structure_atom14_to_atom37(atom14[:, :13], types)
    with pytest.raises(esm_onnx.UsageError, match="types has 79 residues"):
        _core.structure_atom14_to_atom37(atom14, types[1:])


# --- recycling distogram ------------------------------------------------------------------------------------------


def backbones(rng: np.random.Generator, n: int, box: float) -> np.ndarray:
    """atom14 arrays whose N, CA, C are a plausible backbone (CA in a box, N and C ~1.5 A away), the rest noise."""
    atom14 = rng.uniform(-box, box, size=(n, 14, 3))
    ca = atom14[:, 1]
    atom14[:, 0] = ca + rng.normal(size=(n, 3)) * 0.9
    atom14[:, 2] = ca + rng.normal(size=(n, 3)) * 0.9
    return atom14.astype(np.float32)


def trunk_cb_distances(atom14: np.ndarray) -> np.ndarray:
    """[L, L] CB-CB distances in float64 from the trunk's own CB (its constants and float32 arithmetic)."""
    n, ca, c = (torch.tensor(atom14[:, k]) for k in range(3))
    b, cc = ca - n, c - ca
    cb = (-0.58273431 * b.cross(cc, dim=-1) + 0.56802827 * b - 0.54067466 * cc + ca).numpy().astype(np.float64)
    return np.sqrt(((cb[:, None] - cb[None]) ** 2).sum(-1))


EDGES = torch.linspace(3.375, 21.375, 14).numpy().astype(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_recycle_bins_match_the_trunk(seed):
    rng = np.random.default_rng(seed)
    n = 70
    atom14 = backbones(rng, n, box=14.0)
    have = _core.structure_recycle_bins(atom14)
    want = modeling_esmfold.EsmFoldingTrunk.distogram(torch.tensor(atom14[None, :, :3]), 3.375, 21.375, 15)[0].numpy()
    assert have.dtype == np.int64 and have.shape == (n, n)
    assert set(np.unique(want)) == set(range(15)), "the inputs should fill every bin"
    # Same float32 operations in the same order, so the bins agree everywhere here (seed 2 has a pair 2e-5 A from
    # an edge). Elsewhere (a CPU where torch fuses the cross product's multiply-adds) a pair within 1e-4 A of an
    # edge may fall either side: only those may differ.
    near_edge = np.abs(trunk_cb_distances(atom14)[..., None] - EDGES).min(-1) < 1e-4
    differ = have != want
    assert not np.any(differ & ~near_edge), np.argwhere(differ & ~near_edge)[:5]


def test_recycle_bin_margin():
    rng = np.random.default_rng(3)
    atom14 = backbones(rng, 40, box=12.0)
    # The margin by its definition, in float64 from the trunk's own CB.
    d = trunk_cb_distances(atom14)[np.triu_indices(len(atom14), 1)]
    want = np.abs(d[:, None] - EDGES[None]).min()
    assert _core.structure_recycle_bin_margin(atom14) == pytest.approx(want, abs=1e-5)
    # Moving one pair onto an edge drives the margin to ~0.
    atom14[1] = atom14[0]
    atom14[1, :, 0] += 3.375
    assert _core.structure_recycle_bin_margin(atom14) < 1e-5
    assert _core.structure_recycle_bin_margin(atom14[:1]) == float("inf")


# --- confidence ---------------------------------------------------------------------------------------------------


def test_plddt_matches_categorical_lddt():
    rng = np.random.default_rng(11)
    logits = (rng.normal(size=(33, 37, 50)) * 3).astype(np.float32)
    have = _core.structure_plddt(logits)
    # transformers' categorical_lddt is 0..1; fair-esm's ESMFold scales it by 100, as we do.
    want = 100 * modeling_esmfold.categorical_lddt(torch.tensor(logits), bins=50).numpy()
    assert have.dtype == np.float32 and have.shape == (33, 37)
    np.testing.assert_allclose(have, want, rtol=0, atol=PLDDT_TOL)
    assert _core.structure_plddt(logits[0, 0]).shape == ()
    with pytest.raises(esm_onnx.UsageError, match="structure_plddt: logits has shape"):
        _core.structure_plddt(np.zeros((3, 0), np.float32))


@pytest.mark.parametrize("length", [1, 7, 19, 20, 45])
def test_ptm_matches_compute_tm(length):
    rng = np.random.default_rng(100 + length)
    logits = (rng.normal(size=(length, length, 64)) * 4).astype(np.float32)
    have = _core.structure_ptm(logits)
    want = float(loss.compute_tm(torch.tensor(logits), max_bin=31, no_bins=64))
    assert abs(have - want) <= PTM_TOL, (have, want)


def test_ptm_and_pae_other_bins():
    rng = np.random.default_rng(5)
    logits = (rng.normal(size=(12, 12, 40)) * 4).astype(np.float32)
    t = torch.tensor(logits)
    assert abs(_core.structure_ptm(logits, max_bin=20.0) - float(loss.compute_tm(t, max_bin=20, no_bins=40))) <= PTM_TOL
    pae, max_pae = _core.structure_predicted_aligned_error(logits, max_bin=20.0)
    want = loss.compute_predicted_aligned_error(t, max_bin=20, no_bins=40)
    np.testing.assert_allclose(pae, want["predicted_aligned_error"].numpy(), rtol=0, atol=PAE_TOL)
    assert max_pae == float(want["max_predicted_aligned_error"])


@pytest.mark.parametrize("length", [1, 30])
def test_pae_matches_compute_predicted_aligned_error(length):
    rng = np.random.default_rng(200 + length)
    logits = (rng.normal(size=(length, length, 64)) * 4).astype(np.float32)
    pae, max_pae = _core.structure_predicted_aligned_error(logits)
    want = loss.compute_predicted_aligned_error(torch.tensor(logits), max_bin=31, no_bins=64)
    assert pae.dtype == np.float32 and pae.shape == (length, length)
    np.testing.assert_allclose(pae, want["predicted_aligned_error"].numpy(), rtol=0, atol=PAE_TOL)
    assert max_pae == float(want["max_predicted_aligned_error"]) == 31.75


def test_confidence_bad_shapes():
    with pytest.raises(esm_onnx.UsageError, match=r"structure_ptm: logits has shape \(3, 4, 64\)"):
        _core.structure_ptm(np.zeros((3, 4, 64), np.float32))
    with pytest.raises(esm_onnx.UsageError, match="structure_predicted_aligned_error: logits has shape"):
        _core.structure_predicted_aligned_error(np.zeros((3, 3), np.float32))
    with pytest.raises(esm_onnx.UsageError, match="2 bins"):
        _core.structure_ptm(np.zeros((3, 3, 2), np.float32))


# --- PDB ----------------------------------------------------------------------------------------------------------


def pdb_inputs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random coordinates within +-100 A (some on exact rounding ties, some -0.0), the atoms each residue type has
    with a few dropped, a few residues written with a random mask (X's atoms among them, as UNK), b-factors 0..100."""
    types = random_types(rng, n)
    atom37 = rng.uniform(-100, 100, size=(n, 37, 3)).astype(np.float32)
    ties = rng.random(atom37.shape) < 0.1
    atom37[ties] = (rng.integers(-1600, 1600, ties.sum()) / 16).astype(np.float32)  # k/16: ties at 3 decimals
    atom37[rng.random(atom37.shape) < 0.01] = -0.0
    mask = atom14_masks(types)["atom37_atom_exists"].copy()
    mask[rng.random(mask.shape) < 0.1] = 0.0
    odd = rng.random(n) < 0.1
    mask[odd] = (rng.random((odd.sum(), 37)) < 0.3).astype(np.float32)
    b_factors = rng.uniform(0, 100, size=(n, 37)).astype(np.float32)
    b_ties = rng.random(b_factors.shape) < 0.2
    b_factors[b_ties] = (rng.integers(0, 800, b_ties.sum()) / 8).astype(np.float32)  # k/8: ties at 2 decimals
    residue_index = (np.cumsum(rng.integers(1, 4, n)) + rng.integers(-5, 5)).astype(np.int64)
    return dict(atom37=atom37, mask=mask, types=types, residue_index=residue_index, b_factors=b_factors)


def reference_pdb(x: dict[str, np.ndarray], chain_index: np.ndarray | None) -> str:
    prot = protein.Protein(atom_positions=x["atom37"], aatype=x["types"], atom_mask=x["mask"],
                           residue_index=x["residue_index"], b_factors=x["b_factors"], chain_index=chain_index)
    return protein.to_pdb(prot)


def assert_same_text(have: str, want: str) -> None:
    if have != want:
        for k, (h, w) in enumerate(zip(have.splitlines(), want.splitlines())):
            assert h == w, f"line {k + 1}"
        assert have == want


def test_to_pdb_single_chain():
    x = pdb_inputs(np.random.default_rng(21), 60)
    want = reference_pdb(x, None)
    assert_same_text(_core.structure_to_pdb(**x), want)
    assert want.startswith("PARENT N/A\nATOM      1") and want.endswith("END\n")


def test_to_pdb_chains():
    rng = np.random.default_rng(22)
    n = 90
    x = pdb_inputs(rng, n)
    chains = np.sort(rng.integers(0, 5, n)).astype(np.int64)
    chains[chains == 3] = 25  # chain Z, and a skipped index
    want = reference_pdb(x, chains)
    assert want.count("TER") == len(np.unique(chains))
    assert_same_text(_core.structure_to_pdb(**x, chain_index=chains), want)


def test_to_pdb_reference_quirks():
    """Two things openfold's to_pdb does that one would not guess, reproduced: the chain-change test starts from
    chain 0 whatever the first residue's chain (a structure all in chain B gets a TER after its first residue), and
    a TER line carries the chain of the last ATOM written, even when the residue it closes wrote none."""
    x = pdb_inputs(np.random.default_rng(23), 30)
    x["mask"][:] = atom14_masks(x["types"])["atom37_atom_exists"]
    x["mask"][x["types"] == 20] = 1  # X's atoms written, as UNK: every residue writes some

    all_b = np.ones(30, np.int64)
    want = reference_pdb(x, all_b)
    assert [line[:3] for line in want.splitlines()].count("TER") == 2
    assert_same_text(_core.structure_to_pdb(**x, chain_index=all_b), want)

    # Residue 10 is chain B on its own and writes no atom: the TER closing it says A.
    chains = np.array([0] * 10 + [1] + [2] * 19, np.int64)
    x["mask"][10] = 0
    want = reference_pdb(x, chains)
    ter = [line for line in want.splitlines() if line.startswith("TER")]
    assert [t[21] for t in ter] == ["A", "A", "C"], ter
    assert_same_text(_core.structure_to_pdb(**x, chain_index=chains), want)


def test_to_pdb_values_and_errors():
    x = pdb_inputs(np.random.default_rng(24), 25)
    # NaN (either sign) and infinities print as Python prints them.
    x["atom37"][0, 0] = [np.nan, -np.nan, np.inf]
    x["atom37"][0, 1] = [-np.inf, 1e6, -99999.9995]
    x["mask"][0, :2] = 1
    x["b_factors"][0, 0] = np.nan
    x["residue_index"][3] = 2**31 + 5  # the reference writes residue numbers through int32
    assert_same_text(_core.structure_to_pdb(**x), reference_pdb(x, None))

    empty = {k: v[:0] for k, v in x.items()}
    assert _core.structure_to_pdb(**empty) == "PARENT N/A\nEND\n"

    for arg, bad in [("atom37", x["atom37"][:, :36]), ("mask", x["mask"][:-1]), ("types", x["types"][:, None]),
                     ("residue_index", x["residue_index"][1:]), ("b_factors", x["b_factors"][:, :5])]:
        with pytest.raises(esm_onnx.UsageError, match=f"structure_to_pdb: {arg} has"):
            _core.structure_to_pdb(**{**x, arg: bad})
    with pytest.raises(esm_onnx.UsageError, match="structure_to_pdb: chain_index has"):
        _core.structure_to_pdb(**x, chain_index=np.zeros(3, np.int64))
    with pytest.raises(esm_onnx.InputError, match=r"chain_index\[2\] = 26"):
        _core.structure_to_pdb(**x, chain_index=np.array([0, 0, 26] + [0] * 22, np.int64))
    with pytest.raises(esm_onnx.InputError, match=r"types\[4\] = 21"):
        _core.structure_to_pdb(**{**x, "types": np.where(np.arange(25) == 4, 21, x["types"])})


def _kabsch_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """CA RMSD after superposition by the SVD (Kabsch), numpy: the reference for structure_ca_rmsd's quaternion
    method (convert --verify's measure of a folding model's fidelity)."""
    x, y = a[:, 1].astype(np.float64), b[:, 1].astype(np.float64)
    x, y = x - x.mean(0), y - y.mean(0)
    u, _, vt = np.linalg.svd(x.T @ y)
    d = np.sign(np.linalg.det(u @ vt))
    r = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(((x @ r - y) ** 2).sum(1).mean()))


@pytest.mark.parametrize("seed", range(6))
def test_ca_rmsd_is_kabsch_after_superposition(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 300))
    a = (rng.normal(size=(n, 37, 3)) * 10).astype(np.float32)
    rot = random_rotations(rng, 1)[0]
    moved = (a @ rot.T + rng.normal(size=3) * 50).astype(np.float32)
    assert _core.structure_ca_rmsd(a, moved) < 1e-3  # a rigid motion is no difference
    noisy = (moved + rng.normal(size=moved.shape) * float(rng.choice([0.01, 0.3, 3.0]))).astype(np.float32)
    want = _kabsch_rmsd(a, noisy)
    assert _core.structure_ca_rmsd(a, noisy) == pytest.approx(want, rel=1e-4, abs=1e-4)
    mirrored = a * np.array([1, 1, -1], np.float32)  # a reflection is not a rotation: it stays a difference
    assert _core.structure_ca_rmsd(a, mirrored) == pytest.approx(_kabsch_rmsd(a, mirrored), rel=1e-4, abs=1e-4)
    with pytest.raises(esm_onnx.UsageError, match="b has 2 residues"):
        _core.structure_ca_rmsd(a, a[:2].copy())
