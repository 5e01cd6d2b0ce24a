import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def pure_torch_kernels(monkeypatch):
    """Run the fused paths with their plain-torch time loops instead of the C++ ones."""
    from unroll.time import fused
    monkeypatch.setattr(fused, "_use_native", lambda t: False)
