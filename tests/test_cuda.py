"""The layers on CUDA agree with the CPU reference (skipped without a GPU)."""
import pytest
import torch

import unroll

from helpers import run_with_grads, twin_layers

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("kind", [unroll.LSTM, unroll.RNN])
def test_cuda_matches_cpu(kind):
    ref, fus = twin_layers(kind, 3, 4, 2, bidirectional=True)
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 5])
    _, _, grads_cpu = run_with_grads(ref, x, lengths=lengths)
    _, _, grads_gpu = run_with_grads(fus.cuda(), x.cuda(), lengths=lengths)
    for a, b in zip(grads_gpu, grads_cpu):
        torch.testing.assert_close(a.cpu(), b, atol=1e-10, rtol=0)
