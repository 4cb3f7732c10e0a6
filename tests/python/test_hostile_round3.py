"""Hostile input, round three: output paths naming devices, FIFOs, sockets and folders; resumed work and cache
entries that are not what they claim; a model named twice; arguments of the wrong type at the Python boundary.
Each case failed (a replaced device, a silent drop, an untyped error, a stuck rerun) before its fix. The
duplicate-id case on Ray lives in test_distributed.py, esm-variants' script through the drop-in in
test_compat_scripts.py."""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import stat

import numpy as np
import pytest

import esm_onnx
from conftest import run_cli

SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


@pytest.fixture(scope="module")
def model(onnx_models) -> pathlib.Path:
    return onnx_models["esm2_t3_48_zip"]


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> pathlib.Path:
    p = tmp_path_factory.mktemp("scan") / "dms.csv"
    p.write_text("mutant\nM1A\nK2W\nT3P\n")
    return p


def _special(kind: str, path: pathlib.Path) -> pathlib.Path:
    """A path holding something that is not a regular file; returns the path to check it is still that thing."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        if os.geteuid() == 0:  # a null device of our own: the real one is not put at risk
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        else:
            path.symlink_to("/dev/null")  # followed, and refused; an unprivileged rename could not replace it anyway
            return pathlib.Path("/dev/null")
    elif kind == "link-to-device":
        path.symlink_to("/dev/null")
        return pathlib.Path("/dev/null")
    return path


def _kind(path: pathlib.Path) -> int:
    return stat.S_IFMT(os.stat(path).st_mode)


WRITERS = {
    # name -> the command that writes OUT, given (model, checkpoint, scan, fasta, OUT)
    "dms-output": lambda m, ckpt, scan, fasta, out: ("score", m, "--sequence", SEQ, "--dms-input", scan, "--dms-output", out,
                                                 "--offset-idx", "1"),
    "output-csv-file": lambda m, ckpt, scan, fasta, out: ("score", m, "--input-fasta-file", fasta, "--output-csv-file",
                                                          out, "--matrix-dir", out.parent / "matrices"),
    "matrix": lambda m, ckpt, scan, fasta, out: ("score", m, "--input-fasta-file", fasta, "--output-csv-file",
                                                 out.parent.parent / "m.csv", "--matrix-dir", out.parent),
    "convert": lambda m, ckpt, scan, fasta, out: ("convert", ckpt, "-o", out),
    "h5": lambda m, ckpt, scan, fasta, out: ("embed", m, fasta, out.parent, "--format", "h5"),
    "npz-record": lambda m, ckpt, scan, fasta, out: ("embed", m, fasta, out.parent, "--format", "npz"),
    "pt-record": lambda m, ckpt, scan, fasta, out: ("embed", m, fasta, out.parent, "--format", "pt"),
}
FILE_NAME = {"h5": "embeddings.h5", "npz-record": "a.npz", "pt-record": "a.pt", "matrix": "a.npz"}
KINDS = ["fifo", "socket", "folder", "device", "link-to-device", "read-only-folder"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_writer_replaces_only_a_regular_file(model, checkpoints, scan, tmp_path, writer, kind):
    """The output rule, on every writer: a device, FIFO, socket or folder at the path (directly or through a link) is
    refused naming the path, left as it was, and no scratch file stays behind."""
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    outdir = tmp_path / "out"
    if kind == "read-only-folder":  # /proc/self takes no new file, even from root (for whom chmod changes nothing)
        outdir = pathlib.Path("/proc/self/esm-onnx-out")
    else:
        outdir.mkdir()
    out = outdir / FILE_NAME.get(writer, "result.out")
    checked = _special(kind, out) if kind != "read-only-folder" else None
    before = _kind(checked) if checked is not None and kind != "folder" else None
    p = run_cli(*WRITERS[writer](model, checkpoints["esm2_t3_48_zip"], scan, fasta, out), check=False, timeout=300)
    if writer == "convert" and kind == "folder":
        assert p.returncode == 2 and "is a folder" in p.stderr, p.stderr
    else:
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert str(out) in p.stderr or kind == "read-only-folder", p.stderr
        assert "Success" not in p.stderr and "internal error" not in p.stderr
    if kind == "read-only-folder":
        assert str(outdir) in p.stderr, p.stderr
        return
    if kind == "folder":
        assert out.is_dir()
    else:
        assert _kind(checked) == before, f"{checked} was replaced"
    assert not list(outdir.glob("*.partial*")), list(outdir.iterdir())


@pytest.mark.parametrize("writer", ["dms-output", "output-csv-file", "convert"])
def test_a_link_to_a_regular_file_is_written_through(model, checkpoints, scan, tmp_path, writer):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    target = tmp_path / "real.out"
    target.write_text("old")
    link = tmp_path / "link.out"
    link.symlink_to(target)
    run_cli(*WRITERS[writer](model, checkpoints["esm2_t3_48_zip"], scan, fasta, link), timeout=300)
    assert link.is_symlink() and target.read_bytes() != b"old" and target.stat().st_size > 10


def test_an_unwritable_folder_names_the_reason(model, scan, tmp_path):
    p = run_cli("score", model, "--sequence", SEQ, "--dms-input", scan, "--dms-output", "/proc/self/esm-onnx.csv",
                check=False)
    assert p.returncode == 1 and "/proc/self/esm-onnx.csv" in p.stderr and "Success" not in p.stderr, p.stderr


def test_dms_output_naming_a_folder_says_so(model, scan, tmp_path):
    """Case 11: "cannot move the finished CSV into place: Success" before."""
    (tmp_path / "folder").mkdir()
    p = run_cli("score", model, "--sequence", SEQ, "--dms-input", scan, "--dms-output", tmp_path / "folder",
                check=False)
    assert p.returncode == 1 and "--dms-output" in p.stderr and "a folder" in p.stderr and "Success" not in p.stderr


def test_a_model_given_twice_is_scored_once(model, onnx_models, scan, tmp_path):
    """Case 2: `score a.onnx --model-location b.onnx` scored only b.onnx; one file in two spellings weighed twice."""
    other = onnx_models["esm1v_t2_32_zip"]
    out = tmp_path / "two.csv"
    p = run_cli("score", model, "--model-location", other, "--sequence", SEQ, "--dms-input", scan, "--dms-output", out,
                "--offset-idx", "1", "--json")
    assert '"models":[' in p.stdout
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["mutant", str(model), str(other), esm_onnx.ENSEMBLE_COLUMN]
    link = tmp_path / "same.onnx"
    link.symlink_to(model)
    for spelling in (link, pathlib.Path(os.path.relpath(model))):
        out = tmp_path / "once.csv"
        p = run_cli("score", model, "--model-location", spelling, "--sequence", SEQ, "--dms-input", scan,
                    "--dms-output", out, "--offset-idx", "1")
        assert "scored once" in p.stderr and "with 1 model " in p.stdout, (p.stdout, p.stderr)
        assert out.read_text().splitlines()[0].split(",") == ["mutant", str(model)]


def _missense(model, fasta, out, *extra, check=True):
    return run_cli("score", model, "--input-fasta-file", fasta, "--output-csv-file", out, "--json", *extra, check=check)


@pytest.mark.parametrize("damage", ["float64", "shape", "truncated", "fortran"])
def test_resume_redoes_a_matrix_that_is_not_what_it_claims(model, tmp_path, damage):
    """Case 3: a matrix of the wrong shape or dtype (right sequence and provenance) was trusted, then every rerun
    failed at the CSV step with "changed while the job ran"."""
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n>b\nGSHMSDNGPQ\n")
    out = tmp_path / "s.csv"
    _missense(model, fasta, out)
    want = out.read_text()
    matrix = tmp_path / "s.csv.d" / "a.npz"
    z = dict(np.load(matrix))
    if damage == "float64":
        z["scores"] = z["scores"].astype(np.float64)
    elif damage == "shape":
        z["scores"] = z["scores"][:, :19].copy()
    elif damage == "fortran":
        z["scores"] = np.asfortranarray(z["scores"])
    if damage == "truncated":
        data = matrix.read_bytes()
        matrix.write_bytes(data[: len(data) // 2])
    else:
        np.savez(matrix, **z)
    p = _missense(model, fasta, out)
    assert '"scored":1,"already_present":1' in p.stdout and "scoring record 'a' again" in p.stderr, p.stderr
    got = out.read_text().splitlines()
    assert [l.rsplit(",", 1)[0] for l in got] == [l.rsplit(",", 1)[0] for l in want.splitlines()]
    # rescored alone rather than batched with b: equal within rounding
    np.testing.assert_allclose([float(l.rsplit(",", 1)[1]) for l in got[1:]],
                               [float(l.rsplit(",", 1)[1]) for l in want.splitlines()[1:]], atol=1e-5, rtol=0)


def test_a_stale_scratch_csv_is_removed_and_a_failed_run_leaves_none(model, tmp_path):
    """Case 4: OUT.csv.partial-<host>-<pid> of a failed run stayed forever."""
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    out = tmp_path / "s.csv"
    host = socket.gethostname().replace("-", "_").replace("/", "_")
    stale = tmp_path / f"s.csv.partial-{host}-999999"  # a pid that does not run
    stale.write_text("half")
    foreign = tmp_path / "s.csv.partial-otherhost-1"  # another host's: never judged from here
    foreign.write_text("theirs")
    _missense(model, fasta, out)
    assert not stale.exists() and foreign.exists()
    # a failure at the CSV step (its matrix removed under it is simulated by a matrix folder that is a file next
    # time) leaves no scratch file either
    os.mkfifo(tmp_path / "fifo.csv")
    p = _missense(model, fasta, tmp_path / "fifo.csv", check=False)
    assert p.returncode == 1 and not list(tmp_path.glob("fifo.csv.partial*"))


def test_tile_overlap_zero_names_the_overlap(model, tmp_path):
    """Case 5: reported as "--tile-length 1: must be at least 2 residues", a value nobody gave."""
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    for cmd in (("score", model, "--input-fasta-file", fasta, "--output-csv-file", tmp_path / "o.csv"),
                ("embed", model, fasta, tmp_path / "emb", "--long-sequences", "tile")):
        p = run_cli(*cmd, "--tile-overlap", "0", check=False)
        assert p.returncode == 2 and "--tile-overlap 0" in p.stderr and "--tile-length" not in p.stderr, p.stderr
    with pytest.raises(esm_onnx.UsageError, match="tile_overlap|--tile-overlap 0"):
        esm_onnx.Model(model).score(SEQ, ["M1A"], tiling=esm_onnx.Tiling(min_overlap=0))


def _extract(ckpt, fasta, outdir, cache, check=True):
    env = dict(os.environ, ESM_ONNX_CACHE=str(cache))
    return run_cli("extract", ckpt, fasta, outdir, "--include", "mean", "--repr_layers", "-1", env=env, check=check)


def _means(outdir: pathlib.Path) -> dict:
    import torch

    return {f.name: torch.load(f, weights_only=True)["mean_representations"] for f in sorted(outdir.glob("*.pt"))}


@pytest.mark.parametrize("damage", ["truncated", "replaced", "no-entry-record", "model-swapped"])
def test_a_cache_entry_that_is_not_what_its_name_says_is_rebuilt(checkpoints, tmp_path, damage):
    """Cases 6 and 7: a truncated entry failed every later run with "convert the checkpoint again"; another
    checkpoint's conversion under this one's key was used (other numbers, even another width)."""
    import torch

    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n>b\nGSHMSDNGPQ\n")
    cache = tmp_path / "cache"
    mine, theirs = checkpoints["esm2_t3_48_zip"], checkpoints["esm2_t2_32_legacy"]
    _extract(mine, fasta, tmp_path / "ref", cache)
    _extract(theirs, fasta, tmp_path / "other", cache)
    entries = {e.name: e for e in cache.iterdir() if not e.name.startswith(".")}
    import hashlib

    key = next(k for k in entries if k.startswith(hashlib.sha256(mine.read_bytes()).hexdigest()))
    entry, other = entries[key], next(e for k, e in entries.items() if k != key)
    if damage == "truncated":
        data = (entry / "model.onnx").read_bytes()
        (entry / "model.onnx").write_bytes(data[: len(data) // 3])
    elif damage == "replaced":
        shutil.rmtree(entry)
        shutil.copytree(other, entry)
    elif damage == "no-entry-record":
        (entry / "entry.json").unlink()
    else:  # only the model swapped, the record left
        shutil.copy(other / "model.onnx", entry / "model.onnx")
    p = _extract(mine, fasta, tmp_path / "again", cache)
    assert "cannot be used" in p.stderr and "converting" in p.stderr, p.stderr
    ref, again = _means(tmp_path / "ref"), _means(tmp_path / "again")
    assert ref.keys() == again.keys()
    for name in ref:
        for layer in ref[name]:
            torch.testing.assert_close(again[name][layer], ref[name][layer], atol=1e-6, rtol=0)
    # and the rebuilt entry is trusted again, silently
    p = _extract(mine, fasta, tmp_path / "third", cache)
    assert "cannot be used" not in p.stderr


def test_the_drop_in_and_the_cli_share_one_cache(checkpoints, tmp_path, monkeypatch):
    from esm_onnx import compat

    cache = tmp_path / "cache"
    monkeypatch.setenv("ESM_ONNX_CACHE", str(cache))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    _extract(checkpoints["esm2_t3_48_zip"], fasta, tmp_path / "o", cache)
    before = sorted(p.name for p in cache.iterdir())
    compat.pretrained.load_model_and_alphabet_local(checkpoints["esm2_t3_48_zip"])
    assert sorted(p.name for p in cache.iterdir()) == before  # the CLI's entry, reused
    assert str(compat.pretrained.cache_dir()) == esm_onnx.model_cache_root() == str(cache)


@pytest.mark.parametrize("where", ["under-a-file", "unwritable"])
def test_the_drop_in_with_an_unusable_cache_raises_our_error(checkpoints, tmp_path, monkeypatch, where):
    """Case 8 (drop-in): NotADirectoryError and PermissionError before."""
    from esm_onnx import compat

    if where == "under-a-file":
        (tmp_path / "file").write_text("x")
        monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "file" / "cache"))
    else:
        monkeypatch.setenv("ESM_ONNX_CACHE", "/proc/self/esm-onnx-cache")  # unwritable even for root
    with pytest.raises(esm_onnx.FileError, match="ESM_ONNX_CACHE"):
        compat.pretrained.load_model_and_alphabet_local(checkpoints["esm2_t3_48_zip"])


@pytest.mark.parametrize("call,match", [
    (lambda m: m.forward([["M", "K"]]), "tokens"),
    (lambda m: m.forward([[0, 5, 2], [0, 2]]), "tokens"),
    (lambda m: m.forward([[0, 5.5, 2]]), "integers"),
    (lambda m: m.forward(np.array([[0, np.nan, 2]])), "integers"),
    (lambda m: m.forward(np.array([[0, 2**64 - 1, 2]], dtype=np.uint64)), "beyond"),
    (lambda m: m.forward([[0, 2**70, 2]]), "64 bits"),
    (lambda m: m.forward([[0, 5, 2]], logits="yes"), "logits"),
    (lambda m: m.score(SEQ, None), "mutants"),
    (lambda m: m.score(SEQ, ["M1A", 5]), r"mutants\[1\]"),
    (lambda m: m.score(SEQ, ["M1A"], offset_idx=2**70), "offset_idx"),
    (lambda m: m.score(SEQ, ["M1A"], offset_idx=1.0), "offset_idx"),
    (lambda m: m.score(123, ["M1A"]), "sequence"),
    (lambda m: m.score(SEQ, ["M1A"], toks_per_batch="big"), "toks_per_batch"),
    (lambda m: m.score(SEQ, ["M1A"], tiling=esm_onnx.Tiling(sharpness=float("nan"))), "tile_sharpness"),
    (lambda m: m.score(SEQ, ["M1A"], tiling={"length": 800, "overlap": 5}), "overlap"),
    (lambda m: m.score(SEQ, ["M1A"], tiling=800), "tiling"),
    (lambda m: m.score_missense(None), "sequence"),
    (lambda m: m.embed(["MKT"], include=5), "include"),
    (lambda m: m.embed(["MKT"], repr_layers="all"), "repr_layers"),
    (lambda m: m.embed(["MKT"], tiling=esm_onnx.Tiling(min_overlap=2**64)), "tile_overlap"),
    (lambda m: m.embed(["MKT"], tiling={"length": 1.5}), "tile_length"),
    (lambda m: m.embed_fasta(b"/x.fasta"), "path"),
    (lambda m: esm_onnx.Model(m.path, threads=-1), "threads"),
    (lambda m: esm_onnx.Model(m.path, device=None), "device"),
    (lambda m: esm_onnx.tile_sequence(10, tiling="a"), "tiling"),
    (lambda m: esm_onnx.cached_model(m.path, graph=3), "graph"),
])
def test_python_arguments_of_the_wrong_kind_are_usage_errors(model, call, match):
    """Cases 8 and 9: ValueError and TypeError from numpy and the binding; float ids truncated (5.5 ran token 5),
    NaN reported as id -9223372036854775808 and uint64 2**64-1 as -1."""
    m = esm_onnx.Model(model)
    with pytest.raises(esm_onnx.UsageError, match=match):
        call(m)


def test_integer_token_ids_of_any_integer_type_still_run(model):
    m = esm_onnx.Model(model)
    want = m.forward(np.array([[0, 5, 6, 2]], dtype=np.int64))["logits"]
    for dtype in (np.int32, np.uint8, np.uint64):
        np.testing.assert_array_equal(m.forward(np.array([[0, 5, 6, 2]], dtype=dtype))["logits"], want)
    np.testing.assert_array_equal(m.forward([[0, 5, 6, 2]])["logits"], want)


@pytest.mark.parametrize("fmt", ["npz", "pt"])
@pytest.mark.parametrize("damage", ["truncated", "empty", "not-a-zip"])
def test_embed_resume_redoes_a_record_file_that_is_not_whole(model, tmp_path, fmt, damage):
    """The resume check of embed's per-record formats: a file that is there counted as done, whatever it held."""
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n>b\nGSHMSDNGPQ\n")
    out = tmp_path / "out"
    run_cli("embed", model, fasta, out, "--format", fmt, "--include", "mean")
    record = out / f"a.{fmt}"
    want = record.read_bytes()
    record.write_bytes({"truncated": want[: len(want) // 2], "empty": b"", "not-a-zip": b"x" * len(want)}[damage])
    p = run_cli("embed", model, fasta, out, "--format", fmt, "--include", "mean", "--json")
    assert '"written":1' in p.stdout and '"already_present":1' in p.stdout, p.stdout
    assert len(record.read_bytes()) == len(want)


# --- an attacker's probe of the fixes above (each case reproduced before its fix) -------------------------------

def test_an_input_is_never_the_output(model, checkpoints, scan, tmp_path):
    ckpt = tmp_path / "ck.pt"
    shutil.copy(checkpoints["esm2_t3_48_zip"], ckpt)
    before = ckpt.read_bytes()
    p = run_cli("convert", ckpt, "-o", ckpt, check=False)
    assert p.returncode == 1 and "which this run reads" in p.stderr and ckpt.read_bytes() == before, p.stderr
    m = tmp_path / "m.onnx"
    shutil.copy(model, m)
    p = run_cli("score", m, "--sequence", SEQ, "--dms-input", scan, "--dms-output", m, "--offset-idx", "1", check=False)
    assert p.returncode == 1 and "MODEL" in p.stderr and m.read_bytes() == model.read_bytes(), p.stderr
    fasta = tmp_path / "f.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    p = _missense(m, fasta, fasta, check=False)
    assert p.returncode == 1 and "--input-fasta-file" in p.stderr and fasta.read_text().startswith(">a"), p.stderr
    p = _missense(m, fasta, tmp_path / "o.csv", "--matrix-dir", tmp_path / "o.csv", check=False)
    assert p.returncode == 2 and "--matrix-dir" in p.stderr and not (tmp_path / "o.csv").exists(), p.stderr


@pytest.mark.parametrize("fmt", ["npz", "pt"])
def test_a_record_file_of_another_record_or_a_checkpoint_is_not_taken_for_done(model, checkpoints, tmp_path, fmt):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n>b\nGSHMSDNGPQ\n")
    out = tmp_path / "out"
    run_cli("embed", model, fasta, out, "--format", fmt, "--include", "mean")
    shutil.copy(out / f"b.{fmt}", out / f"a.{fmt}")
    p = run_cli("embed", model, fasta, out, "--format", fmt, "--include", "mean", "--json")
    assert '"written":1' in p.stdout, p.stdout
    if fmt == "npz":
        assert np.load(out / "a.npz")["label"].item().decode() == "a"
    else:
        shutil.copy(checkpoints["esm2_t3_48_zip"], out / "a.pt")  # a checkpoint named like the record
        p = run_cli("embed", model, fasta, out, "--format", fmt, "--include", "mean", "--json")
        assert '"written":1' in p.stdout, p.stdout
        import torch

        assert torch.load(out / "a.pt", weights_only=True)["label"] == "a"


def test_a_matrix_changed_at_the_same_size_is_scored_again(model, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    out = tmp_path / "s.csv"
    _missense(model, fasta, out)
    want = out.read_text()
    matrix = tmp_path / "s.csv.d" / "a.npz"
    data = bytearray(matrix.read_bytes())
    scores = np.load(matrix)["scores"]
    i = data.find(scores.tobytes()[:8])
    data[i:i + 4] = np.float32(-100.0).tobytes()
    matrix.write_bytes(bytes(data))
    p = _missense(model, fasta, out)
    assert '"scored":1' in p.stdout and "-100" not in out.read_text()
    assert out.read_text().splitlines()[0] == want.splitlines()[0]


@pytest.mark.parametrize("damage", ["bytes-flipped", "dangling-link", "killed-conversion"])
def test_the_cache_survives_what_a_probe_did_to_it(checkpoints, tmp_path, damage):
    import hashlib

    import torch

    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    cache = tmp_path / "cache"
    ckpt = checkpoints["esm2_t3_48_zip"]
    key = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    if damage == "dangling-link":
        cache.mkdir()
        _extract(ckpt, fasta, tmp_path / "ref", tmp_path / "other-cache")
        entry = next(p for p in (tmp_path / "other-cache").iterdir() if p.name.startswith(key))
        (cache / entry.name).symlink_to(tmp_path / "nowhere")
    else:
        _extract(ckpt, fasta, tmp_path / "ref", cache)
        entry = next(p for p in cache.iterdir() if p.name.startswith(key))
    if damage == "bytes-flipped":
        data = bytearray((entry / "model.onnx").read_bytes())
        for k in range(len(data) // 2, len(data) // 2 + 4000, 4):
            data[k] ^= 0x20
        (entry / "model.onnx").write_bytes(bytes(data))  # same size
    host = socket.gethostname().replace("-", "_").replace("/", "_")
    stale = cache / f".{entry.name}.{host}-999999999.tmp"
    if damage == "killed-conversion":
        stale.mkdir()
        (stale / "model.onnx.partial").write_text("half")
    p = _extract(ckpt, fasta, tmp_path / "again", cache)
    if damage != "killed-conversion":
        assert "cannot be used" in p.stderr, p.stderr
    assert not stale.exists()
    ref, again = _means(tmp_path / "ref"), _means(tmp_path / "again")
    for name in ref:
        for layer in ref[name]:
            torch.testing.assert_close(again[name][layer], ref[name][layer], atol=1e-6, rtol=0)


def test_scratch_names_placed_in_advance_are_not_followed(checkpoints, model, scan, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = tmp_path / "x.onnx"
    (tmp_path / "x.onnx.partial").symlink_to(victim)
    os.mkfifo(tmp_path / "x.onnx.data.partial")
    run_cli("convert", checkpoints["esm2_t3_48_zip"], "-o", out, timeout=120)
    assert victim.read_text() == "keep" and out.is_file() and not out.is_symlink()
    esm_onnx.read_model_info(out)


def test_long_names_links_to_other_disks_and_seq_ids_that_look_like_scratch_files(model, scan, tmp_path):
    long_name = tmp_path / ("n" * 250)
    run_cli("score", model, "--sequence", SEQ, "--dms-input", scan, "--dms-output", long_name, "--offset-idx", "1")
    assert long_name.read_text().startswith("mutant,")
    elsewhere = pathlib.Path("/dev/shm") if pathlib.Path("/dev/shm").is_dir() else tmp_path / "sub"
    elsewhere.mkdir(exist_ok=True)
    target = elsewhere / f"esm-onnx-test-{os.getpid()}.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    try:
        run_cli("score", model, "--sequence", SEQ, "--dms-input", scan, "--dms-output", link, "--offset-idx", "1")
        assert target.read_text().startswith("mutant,") and link.is_symlink()
    finally:
        target.unlink(missing_ok=True)
    host = socket.gethostname().replace("-", "_").replace("/", "_")
    fasta = tmp_path / "ids.fasta"
    fasta.write_text(f">o.csv.partial-{host}-999999\n{SEQ}\n>x\nGSHMSDNGPQ\n")
    p = _missense(model, fasta, tmp_path / "o.csv", "--matrix-dir", tmp_path)
    assert '"scored":2' in p.stdout and (tmp_path / f"o.csv.partial-{host}-999999.npz").exists()


def test_a_damaged_staged_h5_record_does_not_block_every_rerun(model, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n>b\nGSHMSDNGPQ\n")
    out = tmp_path / "out"
    host = socket.gethostname().replace("-", "_").replace("/", "_")
    staged = out / ".embeddings.h5.staging" / f"{host}-999999999"
    staged.mkdir(parents=True)
    (staged / "0123456789abcdef.rec").write_bytes(b"ESMREC01" + b"\x05" * 7)  # cut short
    p = run_cli("embed", model, fasta, out, "--format", "h5", "--include", "mean", "--json")
    assert '"written":2' in p.stdout, p.stderr
    import h5py

    with h5py.File(out / "embeddings.h5") as f:
        assert sorted(f) == ["a", "b"]


def test_a_file_size_limit_is_an_error_with_a_message_and_leaves_nothing(checkpoints, tmp_path):
    import resource
    import subprocess

    from conftest import CLI

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "c.onnx"
    p = subprocess.run([str(CLI), "convert", str(checkpoints["esm2_t3_48_zip"]), "-o", str(out)], capture_output=True,
                       text=True, preexec_fn=limit, timeout=120)
    assert p.returncode == 1 and "File too large" in p.stderr, (p.returncode, p.stderr)
    assert not list(tmp_path.iterdir())


def test_threads_beyond_any_machine_are_refused_naming_the_option(model, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{SEQ}\n")
    p = run_cli("embed", model, fasta, tmp_path / "o", "--threads", "2147483647", check=False)
    assert p.returncode == 2 and "--threads 2147483647" in p.stderr, p.stderr
    with pytest.raises(esm_onnx.UsageError, match="threads"):
        esm_onnx.Model(model, threads=2**40)


@pytest.mark.parametrize("call,error,match", [
    (lambda m, d: m.embed(5), esm_onnx.UsageError, "sequences"),
    (lambda m, d: m.embed(None), esm_onnx.UsageError, "sequences"),
    (lambda m, d: m.embed(["MK\udc80T"]), esm_onnx.UsageError, "surrogate"),
    (lambda m, d: m.embed([("\udc80", "MKT")]), esm_onnx.UsageError, "surrogate"),
    (lambda m, d: esm_onnx.Model("/tmp/\udc80.onnx"), esm_onnx.UsageError, "surrogate"),
    (lambda m, d: m.score(SEQ, ["K2\udc80"]), esm_onnx.UsageError, "surrogate"),
    (lambda m, d: m.embed(["MKT"], toks_per_batch=np.array([5, 6])), esm_onnx.UsageError, "toks_per_batch"),
    (lambda m, d: m.embed(["MKT"], repr_layers=np.array([[1]])), esm_onnx.UsageError, "repr_layers"),
    (lambda m, d: esm_onnx.tile_sequence(0), esm_onnx.UsageError, "length"),
    (lambda m, d: esm_onnx.tile_sequence(10**12, esm_onnx.Tiling(3, 1)), esm_onnx.UsageError, "length"),
    (lambda m, d: esm_onnx.score_dms(None, SEQ, d), esm_onnx.UsageError, "models"),
    (lambda m, d: esm_onnx.score_dms(m, SEQ, 5), esm_onnx.UsageError, "dms"),
    (lambda m, d: esm_onnx.score_dms(m, SEQ, "/no/such.csv"), esm_onnx.FileError, "dms"),
    (lambda m, d: esm_onnx.score_dms(m, SEQ, d, mutation_col=["mutant"]), esm_onnx.UsageError, "mutation_col"),
    (lambda m, d: esm_onnx.convert("x.pt", "y.onnx", repr_layers=None), esm_onnx.UsageError, "repr_layers"),
    (lambda m, d: esm_onnx.read_matrix("/no/such.npz"), esm_onnx.FileError, "no such matrix"),
    (lambda m, d: esm_onnx.read_matrix(d), esm_onnx.FormatError, "not a matrix"),
    (lambda m, d: esm_onnx.missense_frame(np.zeros((3, 20)), None), esm_onnx.UsageError, "sequence"),
])
def test_more_python_arguments_of_the_wrong_kind(model, scan, call, error, match):
    with pytest.raises(error, match=match):
        call(esm_onnx.Model(model), scan)


def test_numpy_scalars_are_the_numbers_they_hold(model, scan):
    m = esm_onnx.Model(model)
    a = m.score(SEQ, ["K2A"], offset_idx=np.int64(1), strict=np.True_)
    b = m.score(SEQ, ["K2A"], offset_idx=1, strict=True)
    np.testing.assert_array_equal(a, b)
    assert m.embed(["MKT"], toks_per_batch=np.int32(64), repr_layers=[np.int64(3)])[0].mean[3].shape == (48,)


def test_score_dms_in_python_scores_a_model_once_whatever_its_spelling(model, scan, tmp_path):
    other = os.path.relpath(model)
    with pytest.warns(UserWarning, match="scored once"):
        frame = esm_onnx.score_dms([str(model), other], SEQ, scan, offset_idx=1)
    assert list(frame.columns) == ["mutant", str(model)]
