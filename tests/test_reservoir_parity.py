"""Agreement with ReservoirPy 0.4.2 given the same W, W_in and bias (skips without reservoirpy)."""
import numpy as np
import pytest
import scipy.sparse
import torch

from unroll.reservoir import Reservoir, Ridge

reservoirpy = pytest.importorskip("reservoirpy")
from reservoirpy.nodes import Reservoir as ReferenceReservoir  # noqa: E402
from reservoirpy.nodes import Ridge as ReferenceRidge  # noqa: E402

F64 = torch.float64


@pytest.mark.parametrize("units, connectivity, leak, sparse", [(50, 0.2, 1.0, False), (120, 0.05, 0.3, True)])
def test_states_and_readout_predictions_agree_with_reservoirpy(units, connectivity, leak, sparse):
    ours = Reservoir(2, units, spectral_radius=0.9, leak=leak, connectivity=connectivity, bias_scaling=0.3,
                     input_scaling=0.5, sparse=sparse, dtype=F64, seed=0)
    w = ours.weight.to_dense().numpy()
    reference = ReferenceReservoir(W=scipy.sparse.csr_matrix(w) if sparse else w, Win=ours.weight_in.numpy(),
                                   bias=ours.bias.numpy(), lr=leak)
    gen = torch.Generator().manual_seed(1)
    u = torch.rand(600, 1, 2, generator=gen, dtype=F64) * 2 - 1
    y = torch.stack((u[:, :, 0].roll(2, 0), (u[:, :, 1] * u[:, :, 0].roll(1, 0))), dim=2)
    states, _ = ours(u)
    expected = reference.run(u[:, 0].numpy())
    np.testing.assert_allclose(states[:, 0].numpy(), expected, rtol=0, atol=1e-6)
    readout = Ridge(1e-2).fit(states, y, washout=50)
    reference_readout = ReferenceRidge(ridge=1e-2).fit(expected, y[:, 0].numpy(), warmup=50)
    np.testing.assert_allclose(readout(states)[:, 0].numpy(), reference_readout.run(expected), rtol=0, atol=1e-5)
    np.testing.assert_allclose(readout.weight.T.numpy(), reference_readout.Wout, rtol=1e-6, atol=1e-8)
