"""Section 2 of the tour: the tied weight's gradient is the sum of its copies'; a learned start."""
import json

import pytest
import torch

from unroll.experiments import unrolling


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    return unrolling.run(tmp_path_factory.mktemp("unrolling"), quick=True)


def test_the_tied_gradient_is_the_sum_of_the_copies_gradients(section):
    n = section.numbers
    assert n["max_abs_diff_sum_of_copies_vs_reference"] < 1e-12
    assert n["max_abs_diff_sum_of_copies_vs_fused"] < 1e-12
    norms = n["copy_gradient_norms"]
    assert len(norms) == unrolling.STEPS_DRAWN and min(norms) > 1e-3   # every copy has a gradient of its own
    assert max(norms) > 1.5 * min(norms)                               # and they differ
    assert sum(norms) >= n["tied_gradient_norm"]                       # triangle inequality on the sum


def test_the_identity_holds_over_a_longer_unrolling():
    grads = unrolling.tied_gradients(seed=3, steps=9, batch=2)
    assert grads["copies"].shape == (9, 3, 3)
    summed = grads["copies"].sum(0)
    torch.testing.assert_close(summed, grads["reference"], rtol=0, atol=1e-12)
    torch.testing.assert_close(summed, grads["fused"], rtol=0, atol=1e-12)
    absent = torch.tensor(unrolling.WIRING) == 0
    assert (grads["copies"][:, absent] == 0).all()                     # masked connections get no gradient


def test_a_zero_start_net_without_bias_is_odd_in_its_input():
    net = unrolling.small_net(seed=5)
    x = torch.randn(12, 4, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(net(-x)[0], -net(x)[0])


def test_a_learned_start_fits_what_a_zero_start_cannot(section):
    n = section.numbers
    assert n["loss_zero_start"] >= 10 * n["loss_learned_start"]
    assert n["loss_learned_start"] < 0.01
    assert n["loss_zero_start"] > 0.9 * n["zero_start_floor"] > 0.2    # the zero start stays near its floor
    assert max(abs(v) for v in n["learned_start"]) > 0.5               # h_0 moved away from zero
    assert section.holds


def test_figures_and_numbers_are_written(section):
    assert len(section.figures) == 2
    for path in section.figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(section.numbers)
    assert section.command == "unroll tour --only unrolling"
