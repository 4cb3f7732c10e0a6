"""`esm-onnx download` and `convert NAME` against a local server (tests/python/hub_server.py): fair-esm names
into torch hub's folder, hub repositories into the hub cache layout that transformers reads, ESM C release
files; resumed after a dropped connection or a stall, retried after 500s, refused with a clear message for
404 / 401, a checksum mismatch and a full disk. No test touches the internet."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import resource
import signal
import subprocess

import numpy as np
import pytest

import esm_checkpoints
import hf_checkpoints as hf
from conftest import run_cli
from hub_server import COMMIT, Server


@pytest.fixture()
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture()
def env(tmp_path, server):
    e = dict(os.environ)
    for k in ("HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "TORCH_HOME", "XDG_CACHE_HOME"):
        e.pop(k, None)
    e.update({"HOME": str(tmp_path / "home"), "HF_ENDPOINT": server.url, "ESM_ONNX_FAIR_ESM_URL": server.url + "/fair-esm",
              "ESM_ONNX_DOWNLOAD_RETRY_DELAY": "0.05", "ESM_ONNX_DOWNLOAD_TIMEOUT": "1", "HF_HUB_OFFLINE": "1"})
    return e


def cli(env, *args, check=True, preexec=None):
    return run_cli(*args, check=check, env=env, preexec_fn=preexec)


@pytest.fixture()
def fair_esm_files(tmp_path, server):
    path = esm_checkpoints.save_checkpoint("esm2", 2, 32, 4, tmp_path / "src" / "esm2_t6_8M_UR50D.pt", seed=31)
    server.fair_esm["models/esm2_t6_8M_UR50D.pt"] = path.read_bytes()
    server.fair_esm["regression/esm2_t6_8M_UR50D-contact-regression.pt"] = (
        path.with_name("esm2_t6_8M_UR50D-contact-regression.pt").read_bytes())
    return path


@pytest.fixture()
def hub_repo(tmp_path, server):
    folder = hf.save(hf.build("EsmForMaskedLM", "rotary", layers=2, dim=32, heads=4, seed=32), tmp_path / "src_hf")
    server.add_repo_folder("facebook/esm2_tiny", folder)
    return folder


def test_fair_esm_name_lands_where_fair_esm_looks(env, server, fair_esm_files, tmp_path):
    p = cli(env, "download", "esm2_t6_8M_UR50D")
    ckpt = pathlib.Path(p.stdout.strip())
    assert ckpt == tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints" / "esm2_t6_8M_UR50D.pt"
    assert ckpt.read_bytes() == fair_esm_files.read_bytes()
    assert ckpt.with_name("esm2_t6_8M_UR50D-contact-regression.pt").exists()
    # fair-esm's own hub loader finds the files there and downloads nothing.
    code = ("import functools, torch, esm; torch.load = functools.partial(torch.load, weights_only=False); "
            "m, a = esm.pretrained.esm2_t6_8M_UR50D(); print(m.num_layers)")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "TORCH_HOME": str(tmp_path / "home" / ".cache" / "torch")})
    assert out.returncode == 0 and out.stdout.strip() == "2", out.stderr
    # A second run is all cache; convert takes the name.
    assert "all cached" in cli(env, "download", "esm2_t6_8M_UR50D").stderr
    n = len(server.requests)
    cli(env, "convert", "esm2_t6_8M_UR50D", "-o", tmp_path / "m.onnx")
    assert len(server.requests) == n, "a cached fair-esm name needs no request"
    info = json.loads(cli(env, "inspect", tmp_path / "m.onnx", "--json").stdout)
    assert info["contacts"] and info["source_file"] == "esm2_t6_8M_UR50D.pt"


def test_hub_repo_lands_in_the_hub_cache_transformers_reads(env, server, hub_repo, tmp_path):
    p = cli(env, "download", "facebook/esm2_tiny")
    snap = pathlib.Path(p.stdout.strip())
    cache = tmp_path / "home" / ".cache" / "huggingface" / "hub" / "models--facebook--esm2_tiny"
    assert snap == cache / "snapshots" / COMMIT
    assert (cache / "refs" / "main").read_text() == COMMIT
    weights = snap / "model.safetensors"
    assert weights.is_symlink() and weights.resolve().parent == (cache / "blobs").resolve()
    assert weights.resolve().name == hashlib.sha256((hub_repo / "model.safetensors").read_bytes()).hexdigest()
    assert not list(cache.rglob("*.incomplete"))
    # transformers, offline, loads the same files from the same cache.
    code = ("import transformers; m = transformers.EsmForMaskedLM.from_pretrained('facebook/esm2_tiny'); "
            "print(m.config.num_hidden_layers)")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip().endswith("2"), out.stderr
    # convert by repo id: the numbers of the folder it came from.
    cli(env, "convert", "facebook/esm2_tiny", "-o", tmp_path / "a.onnx")
    cli(env, "convert", hub_repo, "-o", tmp_path / "b.onnx")
    fasta = tmp_path / "x.fasta"
    fasta.write_text(">s\nMKTAYIAKQR\n")
    for m in "ab":
        cli(env, "embed", tmp_path / f"{m}.onnx", fasta, tmp_path / m, "--include", "mean", "logits")
    a, b = np.load(tmp_path / "a" / "s.npz"), np.load(tmp_path / "b" / "s.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_sharded_repository(env, server, tmp_path):
    folder = hf.save(hf.build("EsmForMaskedLM", seed=33), tmp_path / "sharded", "sharded")
    server.add_repo_folder("facebook/esm2_sharded", folder)
    snap = pathlib.Path(cli(env, "download", "facebook/esm2_sharded").stdout.strip())
    shards = json.loads((snap / "model.safetensors.index.json").read_text())["weight_map"].values()
    assert all((snap / s).exists() for s in shards) and len(set(shards)) > 1
    cli(env, "convert", snap, "-o", tmp_path / "m.onnx")


def test_esmc_release_file(env, server, tmp_path):
    model = hf.build_esmc("EsmcForMaskedLM", 2, 128, seed=34)
    pth = hf.save_esmc(model, tmp_path / "src" / "esmc_300m_2024_12_v0.pth", "release")
    server.repos["EvolutionaryScale/esmc-300m-2024-12"] = {"data/weights/esmc_300m_2024_12_v0.pth": pth.read_bytes()}
    path = pathlib.Path(cli(env, "download", "esmc_300m").stdout.strip())
    assert path.name == "esmc_300m_2024_12_v0.pth" and path.read_bytes() == pth.read_bytes()
    cli(env, "convert", "esmc_300m", "-o", tmp_path / "m.onnx")
    assert json.loads(cli(env, "inspect", tmp_path / "m.onnx", "--json").stdout)["architecture"] == "ESM C"


def test_dropped_connection_resumes_with_a_range_request(env, server, hub_repo):
    sha = hashlib.sha256((hub_repo / "model.safetensors").read_bytes()).hexdigest()
    server.drop_once.add(f"/cdn/{sha}")
    p = cli(env, "download", "facebook/esm2_tiny")
    gets = [r for r in server.requests if r[0] == "GET" and r[1] == f"/cdn/{sha}"]
    assert len(gets) == 2 and gets[0][2] == "" and gets[1][2].startswith("bytes=") and gets[1][2] != "bytes=0-"
    assert "retrying" in p.stderr
    assert (pathlib.Path(p.stdout.strip()) / "model.safetensors").read_bytes() == (hub_repo / "model.safetensors").read_bytes()


def test_a_stall_is_abandoned_and_resumed(env, server, fair_esm_files):
    server.stall["/fair-esm/models/esm2_t6_8M_UR50D.pt"] = 1
    p = cli(env, "download", "esm2_t6_8M_UR50D")
    assert pathlib.Path(p.stdout.strip()).read_bytes() == fair_esm_files.read_bytes()
    gets = [r for r in server.requests if r[1] == "/fair-esm/models/esm2_t6_8M_UR50D.pt"]
    assert len(gets) == 2 and gets[1][2].startswith("bytes=")


def test_failures_outlasting_the_retries_keep_the_partial_file(env, server, fair_esm_files, tmp_path):
    server.stall["/fair-esm/models/esm2_t6_8M_UR50D.pt"] = 99
    p = cli({**env, "ESM_ONNX_DOWNLOAD_ATTEMPTS": "2"}, "download", "esm2_t6_8M_UR50D", check=False)
    assert p.returncode == 1 and "gave up after 2 attempts" in p.stderr
    folder = tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    assert not (folder / "esm2_t6_8M_UR50D.pt").exists()
    assert (folder / "esm2_t6_8M_UR50D.pt.incomplete").stat().st_size > 0
    server.stall.clear()
    cli(env, "download", "esm2_t6_8M_UR50D")
    assert (folder / "esm2_t6_8M_UR50D.pt").read_bytes() == fair_esm_files.read_bytes()
    server.fail_500.add("/fair-esm/models/esm1b_t33_650M_UR50S.pt")
    p = cli({**env, "ESM_ONNX_DOWNLOAD_ATTEMPTS": "3"}, "download", "esm1b_t33_650M_UR50S", check=False)
    assert p.returncode == 1 and "500" in p.stderr and "gave up after 3 attempts" in p.stderr


def test_404_401_and_tokens(env, server, hub_repo):
    p = cli(env, "download", "facebook/no_such_model", check=False)
    assert p.returncode == 1 and "not found (404)" in p.stderr and "no_such_model" in p.stderr
    server.gated["facebook/esm2_tiny"] = "secret"
    p = cli(env, "download", "facebook/esm2_tiny", check=False)
    assert p.returncode == 1 and "(401)" in p.stderr and "HF_TOKEN" in p.stderr
    cli({**env, "HF_TOKEN": "secret"}, "download", "facebook/esm2_tiny")
    # Offline (the server gone), a cached repository is used at once.
    server.close()
    p = cli(env, "convert", "facebook/esm2_tiny", "-o", hub_repo.parent / "offline.onnx")
    assert "using the cached copy" in p.stderr


def test_a_checksum_mismatch_leaves_nothing(env, server, hub_repo, tmp_path):
    sha = hashlib.sha256((hub_repo / "model.safetensors").read_bytes()).hexdigest()
    server.corrupt.add(f"/cdn/{sha}")
    p = cli(env, "download", "facebook/esm2_tiny", check=False)
    assert p.returncode == 1 and "SHA-256" in p.stderr
    cache = tmp_path / "home" / ".cache" / "huggingface" / "hub" / "models--facebook--esm2_tiny"
    assert not (cache / "blobs" / sha).exists() and not list(cache.rglob("*.incomplete"))


def test_a_full_disk_is_a_clear_error_and_the_rerun_completes(env, server, fair_esm_files, tmp_path):
    limit = len(fair_esm_files.read_bytes()) // 2

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = cli(env, "download", "esm2_t6_8M_UR50D", check=False, preexec=small_disk)
    assert p.returncode == 1 and "cannot write the download" in p.stderr and ".incomplete" in p.stderr, p.stderr
    p = cli(env, "download", "esm2_t6_8M_UR50D")
    assert pathlib.Path(p.stdout.strip()).read_bytes() == fair_esm_files.read_bytes()


def test_unknown_names_and_non_sequence_models(env):
    p = cli(env, "download", "not-a-model", check=False)
    assert p.returncode == 2 and "esm2_t33_650M_UR50D" in p.stderr
    p = cli(env, "download", "esmfold_v0", check=False)  # exists only as fair-esm's files
    assert p.returncode == 1 and "esmfold_v1" in p.stderr and "not this model" in p.stderr
    for missing in ("missing_file.pt", "out/missing_file.pt"):
        p = cli(env, "convert", missing, "-o", "x.onnx", check=False)
        assert p.returncode == 1 and "no such file" in p.stderr, p.stderr


def test_python_download_and_convert_by_name(env, server, hub_repo, tmp_path, monkeypatch):
    import esm_onnx

    for k, v in env.items():
        if k in ("HOME", "HF_ENDPOINT", "ESM_ONNX_FAIR_ESM_URL", "ESM_ONNX_DOWNLOAD_RETRY_DELAY", "ESM_ONNX_DOWNLOAD_TIMEOUT"):
            monkeypatch.setenv(k, v)
    for k in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "TORCH_HOME"):
        monkeypatch.delenv(k, raising=False)
    path = esm_onnx.download("facebook/esm2_tiny", dir=tmp_path / "cache")
    assert pathlib.Path(path).parent.parent == tmp_path / "cache" / "models--facebook--esm2_tiny"
    info = esm_onnx.convert("facebook/esm2_tiny", tmp_path / "m.onnx")
    assert info.head == "language-model" and info.labels == []
    with pytest.raises(esm_onnx.FileError, match="404"):
        esm_onnx.download("facebook/missing")
    with pytest.raises(OSError):
        esm_onnx.download("facebook/missing")


def test_fair_esm_drop_in_named_loader(env, server, fair_esm_files, tmp_path, monkeypatch):
    """esm_onnx.compat's esm.pretrained.esm2_t6_8M_UR50D() fetches as fair-esm does, then gives its numbers."""
    from esm_onnx.compat import pretrained

    for k in ("HOME", "ESM_ONNX_FAIR_ESM_URL", "ESM_ONNX_DOWNLOAD_RETRY_DELAY"):
        monkeypatch.setenv(k, env[k])
    monkeypatch.setenv("ESM_ONNX_CACHE", str(tmp_path / "onnx_cache"))
    for k in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(k, raising=False)
    model, alphabet = pretrained.esm2_t6_8M_UR50D()
    reference, _ = esm_checkpoints.load_with_fair_esm(fair_esm_files)
    import torch

    _, _, toks = alphabet.get_batch_converter()([("a", "MKTAYIAKQR")])
    with torch.no_grad():
        want = reference(torch.as_tensor(toks), repr_layers=[2])["representations"][2].numpy()
    got = model(toks, repr_layers=[2])["representations"][2]
    assert float(np.abs(np.asarray(got) - want).max()) < 1e-4


# -- hostile and faulty servers ----------------------------------------------------------------------------

def test_the_token_goes_to_the_endpoint_only(env, server, hub_repo):
    cdn = Server()
    try:
        cdn.repos = server.repos
        server.redirect_host = cdn.url
        server.gated["facebook/esm2_tiny"] = "secret"
        p = cli({**env, "HF_TOKEN": "secret"}, "download", "facebook/esm2_tiny")
        assert (pathlib.Path(p.stdout.strip()) / "model.safetensors").read_bytes() == (hub_repo / "model.safetensors").read_bytes()
        assert cdn.requests, "the large file came from the other host"
        assert all(auth == "" for _, auth in cdn.authorization), cdn.authorization
        assert any(auth == "Bearer secret" for _, auth in server.authorization)
    finally:
        cdn.close()


def test_a_body_past_the_announced_size_is_cut_off(env, server, hub_repo, tmp_path):
    sha = hashlib.sha256((hub_repo / "model.safetensors").read_bytes()).hexdigest()
    server.extra[f"/cdn/{sha}"] = b"\0" * (4 << 20)
    p = cli(env, "download", "facebook/esm2_tiny", check=False)
    assert p.returncode == 1 and "more than the" in p.stderr and "announced" in p.stderr, p.stderr
    assert not list((tmp_path / "home").rglob("*.incomplete"))


def test_an_endless_body_is_bounded_by_the_name(env, server, fair_esm_files, tmp_path):
    # A regression file may hold 64 MB at most (a model: 16 bytes a parameter of its name): an endless one
    # stops there, not at a full disk.
    server.endless.add("/fair-esm/regression/esm2_t6_8M_UR50D-contact-regression.pt")
    p = cli({**env, "ESM_ONNX_DOWNLOAD_ATTEMPTS": "1"}, "download", "esm2_t6_8M_UR50D", check=False)
    assert p.returncode == 1 and "more than the" in p.stderr and "may hold" in p.stderr, p.stderr
    folder = tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    assert not list(folder.glob("*-contact-regression.pt*"))


def test_a_drip_is_a_stall(env, server, fair_esm_files):
    server.drip.add("/fair-esm/models/esm2_t6_8M_UR50D.pt")
    p = cli({**env, "ESM_ONNX_DOWNLOAD_ATTEMPTS": "1", "ESM_ONNX_DOWNLOAD_TIMEOUT": "2"}, "download",
            "esm2_t6_8M_UR50D", check=False)
    assert p.returncode == 1 and "gave up after 1 attempts" in p.stderr, p.stderr


def test_a_resume_answered_from_byte_zero_starts_over(env, server, fair_esm_files, tmp_path):
    folder = tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    data = fair_esm_files.read_bytes()
    (folder / "esm2_t6_8M_UR50D.pt.incomplete").write_bytes(data[: len(data) // 3])
    server.range_from_zero.add("/fair-esm/models/esm2_t6_8M_UR50D.pt")
    p = cli(env, "download", "esm2_t6_8M_UR50D")
    assert "wrong byte" in p.stderr
    assert (folder / "esm2_t6_8M_UR50D.pt").read_bytes() == data


def test_a_cut_body_and_a_damaged_cache_are_never_kept(env, server, fair_esm_files, tmp_path):
    folder = tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    data = fair_esm_files.read_bytes()
    server.cut_close.add("/fair-esm/models/esm2_t6_8M_UR50D.pt")
    p = cli({**env, "ESM_ONNX_DOWNLOAD_ATTEMPTS": "1"}, "download", "esm2_t6_8M_UR50D", check=False)
    assert p.returncode == 1 and "not a whole file" in p.stderr, p.stderr
    assert not (folder / "esm2_t6_8M_UR50D.pt").exists()
    # A corrupt file already in place (an older download, another tool) is fetched again, not reported cached.
    (folder / "esm2_t6_8M_UR50D.pt").write_bytes(data[: len(data) // 2])
    server.cut_close.clear()
    p = cli(env, "download", "esm2_t6_8M_UR50D")
    assert "damaged" in p.stderr and "all cached" not in p.stderr
    assert (folder / "esm2_t6_8M_UR50D.pt").read_bytes() == data
