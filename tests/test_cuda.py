"""The layers and the recogniser's training on CUDA agree with the CPU (skipped without a GPU)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import unroll
from unroll.reservoir import Reservoir
from unroll.train.checkpoint import load_checkpoint

from helpers import run_with_grads, twin_layers

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("kind, args, options", [
    (unroll.LSTM, (3, 4, 2), {"bidirectional": True}), (unroll.RNN, (3, 4, 2), {"bidirectional": True}),
    (unroll.MemoryBlocks, (3, 2, 2), {"truncate": True}), (unroll.MemoryBlocks, (3, 2, 2), {"truncate": False})])
def test_cuda_matches_cpu(kind, args, options):
    """The fused path on CUDA (the torch loops) against the reference loop on the CPU."""
    ref, fus = twin_layers(kind, *args, **options)
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 5])
    _, _, grads_cpu = run_with_grads(ref, x, lengths=lengths)
    _, _, grads_gpu = run_with_grads(fus.cuda(), x.cuda(), lengths=lengths)
    for a, b in zip(grads_gpu, grads_cpu):
        torch.testing.assert_close(a.cpu(), b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", [unroll.LSTM, unroll.RNN])
def test_torch_backend_on_cuda_matches_the_fused_path_on_cpu(kind):
    _, layer = twin_layers(kind, 3, 4, 2, bidirectional=True)
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 5])
    _, _, grads_cpu = run_with_grads(layer, x, lengths=lengths)
    layer.cuda().backend = "torch"
    _, _, grads_gpu = run_with_grads(layer, x.cuda(), lengths=lengths)
    for a, b in zip(grads_gpu, grads_cpu):
        torch.testing.assert_close(a.cpu(), b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_recogniser_trains_on_cuda_as_on_cpu(tmp_path, backend):
    script = Path(__file__).parent / "scripts" / "handwriting_run.py"
    for device in ("cpu", "cuda"):
        subprocess.run([sys.executable, str(script), str(tmp_path / device), "4", device, backend], check=True,
                       timeout=300)
    cpu, cuda = load_checkpoint(tmp_path / "cpu")[0], load_checkpoint(tmp_path / "cuda")[0]
    for name in cpu:
        if name.startswith("model/"):
            torch.testing.assert_close(cuda[name], cpu[name], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("sparse", [False, True])
def test_reservoir_runs_on_cuda_as_on_cpu(sparse):
    reservoir = Reservoir(2, 600, connectivity=0.02, leak=0.7, bias_scaling=0.2, sparse=sparse, dtype=torch.float64)
    u = torch.randn(50, 3, 2, dtype=torch.float64)
    on_cpu, _ = reservoir(u)
    on_cuda, _ = reservoir.cuda()(u.cuda())
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, atol=1e-12, rtol=0)


@pytest.mark.parametrize("sparse", [False, True])
def test_reservoir_cuda_graph_replays_the_eager_loop(sparse):
    from unroll.reservoir.reservoir import GRAPH_CHUNK
    reservoir = Reservoir(2, 300, connectivity=0.03, leak=torch.linspace(0.3, 1.0, 300), bias_scaling=0.2,
                          sparse=sparse, dtype=torch.float64).cuda()
    u = torch.randn(3 * GRAPH_CHUNK + 17, 2, 2, dtype=torch.float64, device="cuda")
    x = torch.randn(2, 300, dtype=torch.float64, device="cuda")
    eager, graphed = reservoir.drive(u), reservoir.drive(u)
    eager_last = reservoir._run_torch(eager, x, reservoir._loop_leak())
    graphed_last = reservoir._run_graphed(graphed, x)
    torch.testing.assert_close(graphed, eager, atol=1e-12, rtol=0)
    torch.testing.assert_close(graphed_last, eager_last, atol=1e-12, rtol=0)
