"""esm_onnx.distributed on a two-node Ray cluster on 127.0.0.1: every record exactly once and equal to the
single-process CLI's output, a killed worker and a killed driver lose and duplicate nothing, a mismatched
rerun is refused. The cluster and its drivers run in a network namespace of their own that has only the loopback
interface: Ray's servers listen on every interface they see, and the test cluster must be reachable from this
machine alone."""
from __future__ import annotations

import json
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from conftest import PYPKG, run_cli

import pyarrow.parquet as pq  # noqa: E402 - ray[data] in requirements-dev.txt brings it
RAY = pathlib.Path(sys.executable).with_name("ray")
N_RECORDS = 5_000


# Token authentication, with one token for every process of the test cluster: Ray turns it on by itself
# when ~/.ray/auth_token exists (a local ray.init() writes one), and a node started without it cannot join.
TOKEN = uuid.uuid4().hex


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(PYPKG), RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_UV_RUN_RUNTIME_ENV="0",
                RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The namespace the cluster runs in (set by the `cluster` fixture): every command that talks to it runs there.
NETNS: list[str] = []


def _in_net(run, cmd, *args, **kwargs):
    """subprocess.run / Popen of `cmd` inside the test cluster's network namespace."""
    return run([*NETNS, *map(str, cmd)], *args, **kwargs)


@pytest.fixture(scope="module")
def loopback_namespace():
    """A network namespace with only its loopback interface up, removed afterwards (needs root and iproute2;
    ESM_ONNX_TEST_RAY_NETWORK=host runs the cluster on this machine's own network instead, reachable from it)."""
    if os.environ.get("ESM_ONNX_TEST_RAY_NETWORK") == "host":
        yield []
        return
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.fail("the Ray test cluster runs in a network namespace of its own (root and iproute2's `ip`); run as "
                    "root, or set ESM_ONNX_TEST_RAY_NETWORK=host to let it listen on this machine's interfaces")
    name = f"esm-onnx-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, loopback_namespace):
    """A head node and a second node joining it, one CPU each, on 127.0.0.1 (of a namespace with no other
    interface, so that nothing outside this machine can reach them); stopped afterwards."""
    assert RAY.exists(), f"{RAY}: ray is not installed (requirements-dev.txt)"
    NETNS[:] = loopback_namespace
    port = _free_port()
    tmp = tmp_path_factory.mktemp("ray")
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]

    def ray(*args):
        p = _in_net(subprocess.run, [str(RAY), *args], env=_env(), capture_output=True, text=True)
        assert p.returncode == 0, f"ray {' '.join(args)}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"

    try:
        ray("start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={tmp}", *common)
        ray("start", f"--address=127.0.0.1:{port}", *common)
        yield f"127.0.0.1:{port}"
    finally:
        _in_net(subprocess.run, [str(RAY), "stop", "--force"], env=_env(), capture_output=True)


def test_the_cluster_listens_on_loopback_only(cluster):
    """Every socket the test cluster listens on is a loopback one, and its GCS port is not open on this machine's
    own network (Ray's servers listen on every interface they see; the namespace leaves them only loopback)."""
    if not NETNS:
        pytest.skip("ESM_ONNX_TEST_RAY_NETWORK=host: the cluster was asked to run on this machine's network")
    out = _in_net(subprocess.run, ["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    local = [line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines() if line.strip()]
    assert local and all(a.removeprefix("::ffff:").startswith("127.") or a == "::1" for a in local), local
    port = cluster.rsplit(":", 1)[1]
    outside = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    assert outside.strip() == "", outside


@pytest.fixture(scope="module")
def fasta(tmp_path_factory) -> pathlib.Path:
    rng = random.Random(5)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    path = tmp_path_factory.mktemp("fasta") / "proteins.fasta"
    with open(path, "w") as f:
        for i in range(N_RECORDS):
            n = rng.choice([rng.randint(5, 60), rng.randint(60, 250)])
            f.write(f">p{i} some description\n{''.join(rng.choice(aa) for _ in range(n))}\n")
        f.write(">bad one\nMK*V\n")  # skipped, reported in skipped.tsv
    return path


@pytest.fixture(scope="module")
def reference(onnx_models, fasta, tmp_path_factory) -> tuple[pathlib.Path, dict[str, np.ndarray]]:
    """The single-process CLI's output for the same model and FASTA."""
    onnx = onnx_models["esm2_t2_32_legacy"]
    out = tmp_path_factory.mktemp("cli")
    p = run_cli("embed", onnx, fasta, out, "--include", "mean", "--repr-layers", "2", check=False)
    assert p.returncode == 3  # the bad record
    return onnx, {f.stem: np.load(f)["mean_representations/2"] for f in out.glob("*.npz")}


def _driver(address, onnx, fasta, outdir, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "embed", str(onnx), str(fasta), str(outdir),
           "--include", "mean", "--repr-layers", "2", "--workers", "2", "--threads-per-worker", "1",
           "--address", address, *map(str, extra)]
    return _in_net(subprocess.Popen, cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout=600) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def _read_parts(outdir: pathlib.Path) -> dict[str, np.ndarray]:
    got: dict[str, np.ndarray] = {}
    for part in sorted((outdir / "parts").glob("*.parquet")):
        t = pq.read_table(part)
        for label, mean in zip(t.column("label").to_pylist(), t.column("mean_2").to_numpy(zero_copy_only=False)):
            assert label not in got, f"{label} written twice"
            got[label] = np.asarray(mean, np.float32)
    return got


def _check_complete(outdir, ref):
    got = _read_parts(outdir)
    assert sorted(got) == sorted(ref)  # every record exactly once
    worst = max(float(np.abs(got[k] - ref[k]).max()) for k in ref)
    assert worst <= 1e-6, worst
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert manifest["written"] == N_RECORDS and manifest["skipped"] == 1
    skipped = (outdir / "skipped.tsv").read_text().splitlines()
    assert len(skipped) == 2 and "\tbad one\t" in skipped[1] and "'*'" in skipped[1]
    assert not list((outdir / "parts").glob(".*.tmp"))
    return manifest


def test_two_nodes_every_record_once_equal_to_the_cli(cluster, reference, fasta, tmp_path):
    onnx, ref = reference
    code, log = _finish(_driver(cluster, onnx, fasta, tmp_path / "out", "--shard-records", 700))
    assert code == 3, log  # finished, one record skipped
    manifest = _check_complete(tmp_path / "out", ref)
    assert manifest["parts"] == 8 and manifest["parts_run"] == 8
    assert "records/s" in log and "tokens/s" in log
    # A rerun finds every part done and runs none.
    code, log = _finish(_driver(cluster, onnx, fasta, tmp_path / "out", "--shard-records", 700))
    assert code == 3 and json.loads((tmp_path / "out" / "manifest.json").read_text())["parts_run"] == 0, log


def _wait_for_parts(outdir: pathlib.Path, n: int, proc: subprocess.Popen, timeout=300) -> int:
    t0 = time.time()
    while time.time() - t0 < timeout:
        done = len(list((outdir / "parts").glob("*.parquet")))
        if done >= n:
            return done
        assert proc.poll() is None, _finish(proc)[1]
        time.sleep(0.05)
    raise AssertionError(f"no {n} parts after {timeout} s")


def _worker_pids() -> list[int]:
    p = subprocess.run(["pgrep", "-f", "ShardEmbedder"], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def test_killed_worker_loses_and_duplicates_nothing(cluster, reference, fasta, tmp_path):
    onnx, ref = reference
    out = tmp_path / "out"
    earlier = set(_worker_pids())  # actors of earlier runs may still be exiting: not this run's
    proc = _driver(cluster, onnx, fasta, out, "--shard-records", 100)
    _wait_for_parts(out, 5, proc)
    killed = None
    for pid in sorted(set(_worker_pids()) - earlier):
        try:
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
        except ProcessLookupError:
            continue
    assert killed, "no worker process of this run found"
    code, log = _finish(proc)
    assert code == 3, log
    _check_complete(out, ref)


def test_killed_driver_rerun_redoes_only_unfinished_parts(cluster, reference, fasta, tmp_path):
    onnx, ref = reference
    out = tmp_path / "out"
    proc = _driver(cluster, onnx, fasta, out, "--shard-records", 100)
    _wait_for_parts(out, 10, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1)  # Ray notices the driver is gone and ends its actors
    before = len(list((out / "parts").glob("*.parquet")))
    assert 10 <= before < 51
    code, log = _finish(_driver(cluster, onnx, fasta, out, "--shard-records", 100))
    assert code == 3, log
    manifest = _check_complete(out, ref)
    assert manifest["parts"] == 51 and manifest["parts_run"] <= 51 - before


def test_mismatched_rerun_is_refused(cluster, reference, onnx_models, fasta, tmp_path):
    onnx, ref = reference
    out = tmp_path / "out"
    small = tmp_path / "small.fasta"
    small.write_text(">a\nMKTAYIAKQR\n>b\nKALTARQQEV\n")
    code, log = _finish(_driver(cluster, onnx, small, out))
    assert code == 0, log
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "embed"]
    p = _in_net(subprocess.run, [*cmd, str(onnx), str(small), str(out), "--include", "mean", "per_tok", "--address", cluster],
                       env=_env(), capture_output=True, text=True)
    assert p.returncode == 2 and "include" in p.stderr and "another OUTDIR" in p.stderr, p.stderr
    other = onnx_models["esm2_t3_48_zip"]
    p = _in_net(subprocess.run, [*cmd, str(other), str(small), str(out), "--address", cluster], env=_env(), capture_output=True,
                       text=True)
    assert p.returncode == 2 and "another model" in p.stderr, p.stderr


def test_npz_format_is_the_cli_layout(cluster, reference, onnx_models, tmp_path):
    onnx = onnx_models["esm1b_t2_48_zip"]
    small = tmp_path / "small.fasta"
    # Two records longer than ESM-1b's 1,022 residues, embedded in tiles by both.
    long = "".join(random.Random(9).choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(2400))
    small.write_text("".join(f">r{i}\n{'MKTAYIAKQRKALTARQQEV'[: 5 + i % 15] if i % 20 else long[: 1100 + i]}\n"
                             for i in range(40)))
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "embed", str(onnx), str(small), str(tmp_path / "ray"),
           "--include", "mean", "per_tok", "contacts", "--format", "npz", "--shard-records", "7", "--workers", "2",
           "--long-sequences", "tile", "--address", cluster]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    run_cli("embed", onnx, small, tmp_path / "cli", "--include", "mean", "per_tok", "contacts", "--long-sequences", "tile")
    assert np.load(tmp_path / "cli" / "r20.npz")["representations/2"].shape == (1120, 48)
    cli_files = sorted(f.name for f in (tmp_path / "cli").glob("*.npz"))
    assert sorted(f.name for f in (tmp_path / "ray" / "records").glob("*.npz")) == cli_files and len(cli_files) == 40
    for name in cli_files:
        a, b = np.load(tmp_path / "ray" / "records" / name), np.load(tmp_path / "cli" / name)
        assert a.files == b.files
        for k in a.files:
            if k == "label":
                assert a[k] == b[k]
            else:
                # Shards batch other records together than the whole file does (and a record may run alone in
                # one and packed in the other, another attention kernel): rounding, not a different result.
                np.testing.assert_allclose(a[k], b[k], atol=1e-5, rtol=0)


def test_openvino_workers_give_the_cli_numbers_and_need_an_explicit_compute(cluster, reference, ov_models, fasta, tmp_path):
    _, ref = reference
    onnx = ov_models["esm2_t2_32_legacy"]  # OpenVINO runs the standard-op conversion
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "embed", str(onnx), str(fasta), str(tmp_path / "auto"),
           "--engine", "openvino", "--address", cluster]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    assert p.returncode == 2 and "--compute bf16" in p.stderr and "--compute fp32" in p.stderr, p.stderr
    code, log = _finish(_driver(cluster, onnx, fasta, tmp_path / "ov", "--engine", "openvino", "--compute", "fp32"))
    assert code == 3, log  # the bad record
    got = _read_parts(tmp_path / "ov")
    assert sorted(got) == sorted(ref)
    assert max(float(np.abs(got[k] - ref[k]).max()) for k in ref) <= 1e-4
    run = json.loads((tmp_path / "ov" / "run.json").read_text())
    assert (run["options"]["engine"], run["options"]["compute"]) == ("openvino", "fp32")


def _small_fasta(path: pathlib.Path, n: int, seed: int, prefix: str) -> pathlib.Path:
    rng = random.Random(seed)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    path.write_text("".join(f">{prefix}{i}\n{''.join(rng.choice(aa) for _ in range(rng.randint(5, 40)))}\n"
                            for i in range(n)))
    return path


def test_rerun_verifies_parts_instead_of_trusting_their_names(cluster, reference, tmp_path):
    onnx, _ = reference
    out = tmp_path / "out"
    fasta = _small_fasta(tmp_path / "in.fasta", 300, 1, "a")
    code, log = _finish(_driver(cluster, onnx, fasta, out, "--shard-records", 100))
    assert code == 0, log
    # A part cut short (storage without atomic rename, a full disk) is redone, not counted.
    part = sorted((out / "parts").glob("*.parquet"))[1]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    code, log = _finish(_driver(cluster, onnx, fasta, out, "--shard-records", 100))
    assert code == 0 and "cannot be read" in log, log
    assert json.loads((out / "manifest.json").read_text())["parts_run"] == 1
    assert sorted(_read_parts(out)) == sorted(f"a{i}" for i in range(300))
    # The same file name with other records: every stale part is redone.
    _small_fasta(fasta, 300, 2, "b")
    code, log = _finish(_driver(cluster, onnx, fasta, out, "--shard-records", 100))
    assert code == 0 and "other bytes of the input" in log, log
    assert sorted(_read_parts(out)) == sorted(f"b{i}" for i in range(300))
    # Without run.json, other options still do not pass for the old parts.
    (out / "run.json").unlink()
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "embed", str(onnx), str(fasta), str(out), "--include", "mean",
           "bos", "--repr-layers", "2", "--workers", "2", "--address", cluster, "--shard-records", "100"]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "other options" in p.stderr, p.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parts_run"] == 3 and manifest["options"]["include"] == ["bos", "mean"]
    for part in (out / "parts").glob("*.parquet"):
        assert "bos_2" in pq.read_table(part).column_names


def test_esm_onnx_ray_stands_beside_esm_onnx():
    from conftest import CLI

    ray_cli = CLI.with_name("esm-onnx-ray")
    p = subprocess.run([str(ray_cli), "embed", "--help"], capture_output=True, text=True, env=_env())
    assert p.returncode == 0 and "OUTDIR" in p.stdout, p.stderr


def test_score_gives_the_cli_csv_and_resumes(cluster, onnx_models, tmp_path):
    """esm-onnx-ray score over two FASTA files: scores.csv is the single-process CLI's CSV of their concatenation
    (a 1,100-residue protein tiled, a protein with X skipped), and a rerun after a lost part redoes only it."""
    onnx = onnx_models["esm1b_t2_48_zip"]
    rng = random.Random(11)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    records = [(f"s{i} desc", "".join(rng.choice(aa) for _ in range(rng.randint(8, 80)))) for i in range(45)]
    records.insert(7, ("long", "".join(rng.choice(aa) for _ in range(1100))))
    records.insert(20, ("hasX", "MKXT"))
    a, b = tmp_path / "a.fasta", tmp_path / "b.fasta"
    a.write_text("".join(f">{h}\n{s}\n" for h, s in records[:25]))
    b.write_text("".join(f">{h}\n{s}\n" for h, s in records[25:]))
    both = tmp_path / "both.fasta"
    both.write_text(a.read_text() + b.read_text())
    p = run_cli("score", onnx, "--input-fasta-file", both, "--output-csv-file", tmp_path / "cli.csv", check=False)
    assert p.returncode == 3, p.stderr
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "score", str(onnx), str(a), str(b), str(tmp_path / "ray"),
           "--shard-records", "6", "--workers", "2", "--address", cluster]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    assert p.returncode == 3, p.stderr  # the protein with X
    want = (tmp_path / "cli.csv").read_text().splitlines()
    got = (tmp_path / "ray" / "scores.csv").read_text().splitlines()
    assert [l.rsplit(",", 1)[0] for l in got] == [l.rsplit(",", 1)[0] for l in want]
    np.testing.assert_allclose([float(l.rsplit(",", 1)[1]) for l in got[1:]],
                               [float(l.rsplit(",", 1)[1]) for l in want[1:]], atol=1e-5, rtol=0)
    assert "hasX" in (tmp_path / "ray" / "skipped.tsv").read_text()
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["scored"] == 46 and manifest["parts"] == 9
    # a part lost (its marker and its matrices): the rerun redoes that shard only, and the CSV is the same
    (tmp_path / "ray" / "parts" / "b.fasta.000002.done.json").unlink()
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["parts_run"] == 1 and manifest["already_present"] == 6, p.stderr
    assert (tmp_path / "ray" / "scores.csv").read_text().splitlines() == got


def test_a_seq_id_in_two_inputs_is_decided_once_before_any_work(cluster, onnx_models, tmp_path):
    """Round three, case 10: one seq_id in two inputs was listed as skipped yet scored and counted (scored + skipped >
    proteins), and its matrix could overwrite the first one's in matrices/ (a race). The driver now leaves every
    later record of a seq_id out before any worker starts, as the single-process CLI does on the concatenation."""
    onnx = onnx_models["esm2_t2_32_legacy"]
    rng = random.Random(12)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    seqs = {f"s{i}": "".join(rng.choice(aa) for _ in range(rng.randint(8, 40))) for i in range(14)}
    a_records = [(f"s{i} from a", seqs[f"s{i}"]) for i in range(8)]
    b_records = [(f"s{i} from b", seqs[f"s{i}"][::-1]) for i in (3, 9, 10, 11, 5, 12, 13)]  # s3, s5 again
    a, b = tmp_path / "a.fasta", tmp_path / "b.fasta"
    a.write_text("".join(f">{h}\n{s}\n" for h, s in a_records))
    b.write_text("".join(f">{h}\n{s}\n" for h, s in b_records) + ">s9 again in b\nMKTAYIAK\n")
    both = tmp_path / "both.fasta"
    both.write_text(a.read_text() + b.read_text())
    p = run_cli("score", onnx, "--input-fasta-file", both, "--output-csv-file", tmp_path / "cli.csv", check=False)
    assert p.returncode == 3, p.stderr  # the duplicates, skipped
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "score", str(onnx), str(a), str(b), str(tmp_path / "ray"),
           "--shard-records", "3", "--workers", "2", "--address", cluster]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    assert p.returncode == 3, p.stderr
    want = (tmp_path / "cli.csv").read_text().splitlines()
    got = (tmp_path / "ray" / "scores.csv").read_text().splitlines()
    assert [l.rsplit(",", 1)[0] for l in got] == [l.rsplit(",", 1)[0] for l in want]
    np.testing.assert_allclose([float(l.rsplit(",", 1)[1]) for l in got[1:]],
                               [float(l.rsplit(",", 1)[1]) for l in want[1:]], atol=1e-5, rtol=0)
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["records"] == 16 and manifest["scored"] == 13 and manifest["skipped"] == 3, manifest
    skipped = (tmp_path / "ray" / "skipped.tsv").read_text().splitlines()[1:]
    assert sorted(line.split("\t")[1] for line in skipped) == ["s3 from b", "s5 from b", "s9 again in b"]
    assert all("duplicate seq_id" in line and "first at" in line for line in skipped)
    # matrices/ holds each seq_id once, computed from its first record
    matrices = {f.stem: str(np.load(f)["sequence"].item().decode() if np.load(f)["sequence"].dtype.kind == "S"
                            else np.load(f)["sequence"].item()) for f in (tmp_path / "ray" / "matrices").glob("*.npz")}
    assert sorted(matrices) == sorted(k for k in seqs if k != "s8") and all(matrices[k] == seqs[k] for k in ("s3", "s5"))
    assert matrices["s9"] == seqs["s9"][::-1]


def test_a_label_in_two_inputs_is_embedded_once(cluster, onnx_models, tmp_path):
    """The same rule for embed: npz records are keyed by label, so a label in two inputs would be written twice."""
    onnx = onnx_models["esm2_t2_32_legacy"]
    a, b = tmp_path / "a.fasta", tmp_path / "b.fasta"
    a.write_text(">x\nMKTAYIAKQR\n>y\nGSHMSDNGPQ\n")
    b.write_text(">z\nKALTARQQEV\n>x\nMMMMMMMMMM\n>w\nMKV\n")
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "embed", str(onnx), str(a), str(b), str(tmp_path / "ray"),
           "--include", "mean", "--format", "parquet", "--shard-records", "1", "--workers", "2", "--address", cluster]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    assert p.returncode == 3, p.stderr
    t = {}
    for part in (tmp_path / "ray" / "parts").glob("*.parquet"):
        table = pq.read_table(part)
        for label, index in zip(table.column("label").to_pylist(), table.column("index").to_pylist()):
            assert label not in t
            t[label] = index
    assert t == {"x": 0, "y": 1, "z": 0, "w": 2}  # w keeps its index in b.fasta although x before it was left out
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["written"] == 4 and manifest["skipped"] == 1 and manifest["records"] == 5
    assert "\tx\t3\tduplicate label" in (tmp_path / "ray" / "skipped.tsv").read_text()


def test_record_keys_are_the_readers_labels_byte_for_byte(onnx_models, tmp_path):
    """The driver's duplicate keys are the C++ reader's labels: Python's own strip() and split() once took a
    trailing no-break space, a vertical tab inside a seq_id, and two different non-UTF-8 bytes (both decoded to
    U+FFFD) for the same key, dropping a record the workers would have kept apart."""
    from esm_onnx.distributed.shards import record_key

    nbsp, bad1, bad2 = b"abc\xc2\xa0", b"x\xff", b"x\xfe"
    assert record_key(b">" + nbsp + b"\n", 1, "label") != record_key(b">abc\n", 3, "label")
    assert record_key(b">" + bad1 + b"\n", 1, "label") != record_key(b">" + bad2 + b"\n", 3, "label")
    assert record_key(b">  \n", 5, "label") == "seqnum000000004"
    assert record_key(b">P1\x0bX desc\n", 1, "seq_id") == "P1\x0bX"
    # ... and the labels the embed job writes (its reader), for the UTF-8 ones
    fasta = tmp_path / "keys.fasta"
    fasta.write_bytes(b">" + nbsp + b"\nMKT\n>abc\nMKT\n>\nMKT\n> spaced label \nMKT\n")
    import esm_onnx

    labels = [e.label for e in esm_onnx.Model(onnx_models["esm2_t2_32_legacy"]).embed_fasta(fasta)]
    keys = [record_key(h, n, "label") for n, h in ((1, b">" + nbsp), (3, b">abc"), (5, b">"), (7, b"> spaced label "))]
    assert sorted(labels) == sorted(keys), (labels, keys)


def test_fold_gives_the_cli_structures_and_resumes(cluster, tmp_path):
    """esm-onnx-ray fold over two FASTA files: every record's structure equal to the single-process CLI's (batches
    differ, so within the batched-vs-alone rounding), summary.csv its rows in the inputs' order, a record with a
    bad residue and a label repeated across the inputs skipped, and a rerun after a lost part redoes only it."""
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import fold_oracle as fo

    folder = fo.save_transformers_folder(fo.make_esmfold(3), tmp_path / "esmfold_hf")
    onnx = tmp_path / "esmfold.onnx"
    run_cli("convert", folder, "-o", onnx)
    rng = random.Random(5)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    records = [(f"p{i}", "".join(rng.choice(aa) for _ in range(rng.randint(6, 24)))) for i in range(7)]
    records.insert(3, ("dimer", "MKTAYIAKQ:RQISFVKSH"))
    records.insert(5, ("bad", "MKT1AY"))
    a, b = tmp_path / "a.fasta", tmp_path / "b.fasta"
    a.write_text("".join(f">{h}\n{s}\n" for h, s in records[:5]))
    b.write_text("".join(f">{h}\n{s}\n" for h, s in records[5:]) + ">p1\nMMMMMMMM\n")
    both = tmp_path / "both.fasta"
    both.write_text("".join(f">{h}\n{s}\n" for h, s in records))
    p = run_cli("fold", onnx, both, tmp_path / "cli", "--num-recycles", "1", check=False)
    assert p.returncode == 3, p.stderr
    cmd = [sys.executable, "-m", "esm_onnx.distributed", "fold", str(onnx), str(a), str(b), str(tmp_path / "ray"),
           "--num-recycles", "1", "--shard-records", "2", "--workers", "2", "--address", cluster]
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    assert p.returncode == 3, p.stderr  # the bad record and the repeated label
    ray_out = tmp_path / "ray"
    want = [r for r in (tmp_path / "cli" / "summary.csv").read_text().splitlines()]
    got = (ray_out / "summary.csv").read_text().splitlines()
    assert got[0] == want[0] and sorted(l.split(",")[:2] for l in got[1:]) == sorted(l.split(",")[:2] for l in want[1:])
    assert [l.split(",")[0] for l in got[1:]] == [h for h, _ in records if h != "bad"]  # the inputs' order
    for label, _ in records:
        if label == "bad":
            assert not (ray_out / "bad.pdb").exists()
            continue
        with np.load(ray_out / f"{label}.npz") as r, np.load(tmp_path / "cli" / f"{label}.npz") as c:
            assert str(r["sequence"]) == str(c["sequence"])
            np.testing.assert_allclose(r["positions"], c["positions"], atol=2e-3, rtol=0)
            np.testing.assert_allclose(r["plddt"], c["plddt"], atol=2e-3, rtol=0)
            np.testing.assert_allclose(r["ptm"], c["ptm"], atol=5e-5, rtol=0)
    skipped = (ray_out / "skipped.tsv").read_text()
    assert "\tbad\t" in skipped and f"{b}\tp1\t" in skipped and "duplicate label" in skipped
    manifest = json.loads((ray_out / "manifest.json").read_text())
    assert manifest["folded"] == 8 and manifest["skipped"] == 2 and manifest["records"] == 10, manifest
    # a part lost: the rerun redoes that shard only (its records already there are not folded again)
    (ray_out / "parts" / "a.fasta.000001.done.json").unlink()
    p = _in_net(subprocess.run, cmd, env=_env(), capture_output=True, text=True)
    manifest = json.loads((ray_out / "manifest.json").read_text())
    # the redone part found both its records folded (the other parts keep their counts)
    assert manifest["parts_run"] == 1 and manifest["already_present"] == 2 and manifest["folded"] == 6, p.stderr
    assert (ray_out / "summary.csv").read_text().splitlines() == got
    # another model's structures are not mixed into the folder
    other = tmp_path / "other.onnx"
    run_cli("convert", fo.save_transformers_folder(fo.make_esmfold(4), tmp_path / "other_hf"), "-o", other)
    p = _in_net(subprocess.run, [*cmd[:4], str(other), *cmd[5:]], env=_env(), capture_output=True, text=True)
    assert p.returncode == 2 and "another model" in p.stderr, p.stderr
