"""Hessian-free inside fit(): it trains a fused tanh RNN, resumes exactly, and refuses what it cannot do."""
import pytest
import torch

from unroll.data import make_task
from unroll.train import FitConfig, build_model, fit

HF = {"optimizer": "hessian-free", "lr": 1.0, "batch_size": 200, "hf_curvature_batch": 100, "hf_cg_iters": 30,
      "hf_damping": 0.04, "hf_structural": 1 / 30, "weight_decay": 2e-5}


def _model(task, seed=0):
    torch.manual_seed(seed)
    return build_model("rnn", task.input_size, task.output_size, 16)


@pytest.mark.filterwarnings("ignore:HessianFree")
def test_hf_trains_a_fused_rnn_on_temporal_order():
    task = make_task("temporal-order-2bit-2011", length=12)
    model = _model(task)
    config = FitConfig(steps=40, eval_every=5, eval_size=400, stop_when_solved=False, **HF)
    result = fit(model, task, config, quiet=True)
    assert model.layer.backend == "fused"
    errors = [record["error_rate"] for record in result.history]
    assert errors[0] > 0.5 and min(errors) < 0.1, errors    # chance is 0.75


@pytest.mark.filterwarnings("ignore:HessianFree")
def test_hf_resumes_bit_for_bit(tmp_path):
    task = make_task("adding-2011", length=12)
    config = FitConfig(steps=4, eval_every=2, eval_size=50, stop_when_solved=False, checkpoint_every=2,
                       **{**HF, "batch_size": 20, "hf_curvature_batch": 10})
    whole = _model(task)
    fit(whole, task, config, out_dir=tmp_path / "whole", quiet=True)
    part = _model(task)
    fit(part, task, FitConfig(**{**config.to_dict(), "steps": 2}), out_dir=tmp_path / "part", quiet=True)
    resumed = _model(task, seed=1)
    fit(resumed, task, config, out_dir=tmp_path / "part", resume=True, quiet=True)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_hf_config_refuses_truncation_and_clipping():
    with pytest.raises(ValueError, match="hessian-free.*tbptt"):
        FitConfig(optimizer="hessian-free", tbptt=[5, 5])
    with pytest.raises(ValueError, match="hessian-free.*clip_norm"):
        FitConfig(optimizer="hessian-free", clip_norm=1.0)
    with pytest.raises(ValueError, match="hf_damping"):
        FitConfig(optimizer="hessian-free", hf_damping=0.0)
