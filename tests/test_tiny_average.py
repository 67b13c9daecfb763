"""Snapshots kept during training and their average (`sora-lab model average`)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from sora_lab.cli.model import model_app
from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.average import average_weights, snapshot_dir
from sora_lab.generate.tiny.card import write_model_card
from sora_lab.generate.tiny.model import load_weights
from sora_lab.generate.tiny.train import TrainSettings, train

MICRO = dict(num_layers=1, num_heads=2, head_dim=16, ffn_dim=32, freq_dim=32)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 3-step micro run that keeps a snapshot at every step."""
    run_dir = tmp_path_factory.mktemp("run")
    settings = TrainSettings(seed=2, batch_size=2, model=MICRO, warmup=1, lr=1e-2)
    train(run_dir, steps=3, settings=settings, checkpoint_every=10, threads=1, snapshot_every=1)
    return run_dir


def test_training_keeps_a_snapshot_at_each_multiple(run):
    steps = [load_weights(snapshot_dir(run, k))[1]["trained_steps"] for k in (1, 2, 3)]
    assert steps == [1, 2, 3]
    last, _ = load_weights(snapshot_dir(run, 3))
    exported, _ = load_weights(run / "weights")
    assert all(torch.equal(a, b) for a, b in zip(last.state_dict().values(), exported.state_dict().values(),
                                                 strict=True))


def test_the_average_is_the_element_wise_mean_and_records_its_parts(run, tmp_path):
    folders = [snapshot_dir(run, k) for k in (1, 2, 3)]
    meta = average_weights(folders, tmp_path / "soup", {"guidance": 4.0})
    soup, stored = load_weights(tmp_path / "soup")
    parts = [load_weights(f)[0].state_dict() for f in folders]
    for key, value in soup.state_dict().items():
        torch.testing.assert_close(value, (parts[0][key] + parts[1][key] + parts[2][key]) / 3)
    assert not torch.equal(parts[0]["transformer.proj_out.weight"], parts[2]["transformer.proj_out.weight"])
    assert [a["trained_steps"] for a in stored["averaged_from"]] == [1, 2, 3]
    assert [a["folder"] for a in stored["averaged_from"]] == ["step_0000001", "step_0000002", "step_0000003"]
    assert stored["trained_steps"] == 3 and stored["sampling"]["guidance"] == 4.0 and meta["sampling"] == stored[
        "sampling"]
    card = write_model_card(tmp_path / "soup", {}).read_text()
    assert "mean of the EMA weights at steps 1, 2, 3" in card and "CFG 4.0" in card
    scored = {"n": 200, "adherence": 0.925, "adherence_ci95": [0.88, 0.954],
              "per_attribute": {"color": {"accuracy": 1.0, "n": 200}}}
    card = write_model_card(tmp_path / "soup", {"grammar": scored}).read_text()
    assert "| grammar | 200 | **0.925** (0.88–0.95) | 1.000 | – |" in card


def test_bad_averages_are_refused_and_write_nothing(run, tmp_path):
    one, two = snapshot_dir(run, 1), snapshot_dir(run, 2)
    with pytest.raises(InputError, match="at least two"):
        average_weights([one], tmp_path / "out")
    with pytest.raises(InputError, match="given twice"):
        average_weights([one, one], tmp_path / "out")
    before = (two / "model.safetensors").read_bytes()
    with pytest.raises(InputError, match="one of the folders"):
        average_weights([one, two], two)
    assert (two / "model.safetensors").read_bytes() == before
    other = tmp_path / "other"
    train(other, steps=1, settings=TrainSettings(seed=2, batch_size=2, model={**MICRO, "ffn_dim": 64}),
          checkpoint_every=10, threads=1)
    with pytest.raises(InputError, match="different network"):
        average_weights([one, other / "weights"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_average_json_and_one_line_errors(run, tmp_path):
    runner = CliRunner()
    args = ["average", str(snapshot_dir(run, 2)), str(snapshot_dir(run, 3)), "--out", str(tmp_path / "s"), "--json"]
    result = runner.invoke(model_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [a["trained_steps"] for a in report["averaged_from"]] == [2, 3]
    assert (tmp_path / "s" / "model.safetensors").exists()
    result = runner.invoke(model_app, ["average", str(snapshot_dir(run, 2)), "--out", str(tmp_path / "t")])
    assert result.exit_code == 1 and "at least two" in result.output
    result = runner.invoke(model_app, ["average", str(snapshot_dir(run, 2)), str(tmp_path / "nothing"),
                                       "--out", str(tmp_path / "t")])
    assert result.exit_code == 1 and "no tiny model" in result.output
