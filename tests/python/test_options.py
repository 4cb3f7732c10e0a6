"""The shared options have one home (esm_onnx/base/option_specs.h): the CLI's --help, the Python keyword defaults and
esm-onnx-ray's arguments all show the library's row, and the read-ahead and the tiling have names of their own."""
from __future__ import annotations

import inspect
import re

import pytest

from conftest import run_cli

import esm_onnx
from esm_onnx import _options

JOBS = {"embed": ("embed",), "score": ("score",), "convert": ("convert",)}


def _option_line(text: str, flag: str) -> str:
    """The --help line that declares `flag` ("  --tile-overlap N=512   residues ...")."""
    lines = [ln for ln in text.splitlines() if re.match(rf"\s+{re.escape(flag)}[ ,=]|\s+{re.escape(flag)}$", ln)]
    assert len(lines) == 1, (flag, lines)
    return lines[0]


@pytest.mark.parametrize("job", ["embed", "score", "convert"])
def test_the_cli_help_shows_the_table(cli, job):
    text = run_cli(*JOBS[job], "--help").stdout
    for row in esm_onnx.options(job):
        line = _option_line(text, row["flags"][0])
        assert ",".join(row["flags"]) in line, (row["flags"], line)
        if not isinstance(row["default"], bool) and row["key"] != "cache_dir":  # flags and a path show no value
            assert f"={row['shown']}" in line, (row["key"], row["shown"], line)


def test_python_keyword_defaults_are_the_table():
    embed, score = _options.EMBED, _options.SCORE
    checks = [(esm_onnx.Model.embed, embed), (esm_onnx.Model.embed_fasta, embed), (esm_onnx.Model.embed_to_dir, embed),
              (esm_onnx.embed_to_dir, embed), (esm_onnx.Model.__init__, embed), (esm_onnx.Model.score, score),
              (esm_onnx.Model.score_missense, score), (esm_onnx.score_dms, score), (esm_onnx.score_missense, score),
              (esm_onnx.convert, _options.CONVERT)]
    for fn, table in checks:
        params = inspect.signature(fn).parameters
        shared = [k for k in params if k in table]
        assert shared, fn
        for key in shared:
            assert params[key].default == table[key], (fn.__qualname__, key, params[key].default, table[key])
        # no function takes the tiling's fields one by one any more, nor the read-ahead as "window"
        assert not {"tile_length", "tile_overlap", "tile_sharpness", "window"} & set(params), fn.__qualname__
    assert esm_onnx.DEFAULTS == embed
    assert embed["toks_per_batch"] != score["toks_per_batch"] and embed["read_ahead"] != score["read_ahead"]


def test_the_ray_command_line_is_built_from_the_table():
    from esm_onnx.distributed import cli as ray_cli  # its parser needs nothing of Ray

    ap = ray_cli.parser()
    for job in ("embed", "score"):
        a = ap.parse_args([job, "m.onnx", "in.fasta", "out"])
        for key in ray_cli.SHARED:
            assert getattr(a, key) == _options.spec(key, job)["default"], (job, key)
        assert ray_cli._tiling(a) == esm_onnx.Tiling()
        a = ap.parse_args([job, "m.onnx", "in.fasta", "out", "--tile-length", "300", "--tile-overlap", "200",
                           "--no-progress"])
        assert ray_cli._tiling(a) == esm_onnx.Tiling(300, 200) and a.progress is False


def test_tiling_is_one_object():
    t = esm_onnx.Tiling()
    assert t.length is None and (t.min_overlap, t.sharpness) == (_options.EMBED["tile_overlap"], _options.EMBED["tile_sharpness"])
    assert esm_onnx.Tiling(300, 200) == esm_onnx.Tiling(length=300, min_overlap=200) != t
    assert repr(esm_onnx.Tiling(600)) == "Tiling(length=600, min_overlap=512, sharpness=20)"
    for bad, name in (({"length": 1}, "tile.length"), ({"min_overlap": 0}, "tile.overlap"),
                      ({"length": 300, "min_overlap": 300}, "tile.overlap"), ({"sharpness": -1.0}, "tile.sharpness"),
                      ({"length": "300"}, "tile_length"), ({"length": True}, "tile_length")):
        with pytest.raises(esm_onnx.UsageError, match=name):
            esm_onnx.Tiling(**bad)


def test_the_read_ahead_keeps_its_old_spelling_on_the_command_line(cli, onnx_models, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nMKTAYIAK\n>b\nMKT\n")
    for spelling in ("--read-ahead", "--window"):
        out = tmp_path / spelling.strip("-")
        run_cli("embed", onnx_models["esm2_t3_48_zip"], fasta, out, spelling, "1")
        assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz"]
