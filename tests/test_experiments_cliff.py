"""Pascanu's cliff: a wall in the error surface of one unit; clipping keeps gradient descent off it."""
import json

import pytest
import torch

from unroll import FullyRecurrentCell, unroll
from unroll.experiments import cliff


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    return cliff.run(tmp_path_factory.mktemp("cliff"), quick=True)


def test_clipped_descent_ends_in_the_valley_and_plain_descent_is_thrown_off(section):
    n = section.numbers
    assert section.holds
    assert n["clipped"]["final_loss"] < cliff.VALLEY_LOSS
    assert n["clipped"]["largest_step"] <= cliff.LEARNING_RATE * cliff.CLIP_NORM * (1 + 1e-9)
    assert n["clipped"]["largest_gradient_norm"] > 10 * cliff.CLIP_NORM   # it met the wall too, and clipped there
    assert n["largest_step_ratio"] > cliff.JUMP_FACTOR
    assert n["plain"]["largest_step"] > 5.0                  # thrown across the plane in one update
    assert n["plain"]["final_loss"] > 0.05                   # and left stranded on a plateau
    assert not n["plain"]["in_valley"]


def test_the_surface_has_a_cliff(section):
    wall = section.numbers["wall_cross_section"]
    assert wall["gradient_norm_ratio_on_wall_to_sides"] > 1e6
    below, on, above = wall["loss_below_on_above"]
    assert below - above > 0.3                               # the wall: two plateaus of different height
    grid = section.numbers["surface"]
    assert grid["largest_to_median_gradient_norm"] > 1e3
    assert grid["largest_neighbour_loss_jump"] > 0.3         # a step between neighbouring grid points


def test_clipping_helps_from_most_other_starts(section):
    others = section.numbers["other_starts"]
    assert others["clipped_in_valley"] > others["plain_in_valley"]
    assert others["clipped_in_valley"] >= 0.9


def test_figure_and_numbers_are_written(section):
    (figure,) = section.figures
    assert figure.name == "cliff.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(section.numbers)
    assert section.key == "cliff" and section.command == "unroll tour --only cliff"


def test_the_loss_is_a_one_unit_logistic_recurrent_net():
    """h_t = sigma(x_t) obeys h_t = sigma(w h_{t-1} + b): the library's one-unit logistic cell, no input."""
    w, b = 4.5, -2.7
    cell = FullyRecurrentCell(1, 1, activation="logistic", dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.fill_(w)
        cell.weight_ih.zero_()
        cell.bias.fill_(b)
    h0 = torch.sigmoid(torch.tensor([[cliff.X0]], dtype=torch.float64))
    ys, _, _ = unroll(cell, torch.zeros(cliff.STEPS, 1, 1, dtype=torch.float64), h0)
    expected = (ys[-1, 0, 0] - cliff.TARGET) ** 2
    loss = cliff.cliff_loss(torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)


def test_descent_clips_each_run_by_its_own_gradient():
    starts = torch.tensor([cliff.START, (3.0, -1.0)], dtype=torch.float64)
    together = cliff.descend(starts, clip_norm=cliff.CLIP_NORM, iterations=60)
    for n in range(2):
        alone = cliff.descend(starts[n:n + 1], clip_norm=cliff.CLIP_NORM, iterations=60)
        torch.testing.assert_close(together.path[:, n], alone.path[:, 0], rtol=0, atol=1e-12)
