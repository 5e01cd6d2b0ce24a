"""Section 4 of the tour: ||dL/dh|| against the lag for tanh nets of several spectral radii and an LSTM."""
import json
import math

import pytest

from unroll.experiments import vanishing


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    return vanishing.run(tmp_path_factory.mktemp("vanishing"), quick=True)


def _tanh(curves, radius):
    return curves[f"tanh radius {radius:g}"]


def test_tanh_slopes_follow_the_log_of_the_spectral_radius(section):
    curves = section.numbers["tiny_inputs"]
    slopes = [_tanh(curves, r)["ln_slope_per_step"] for r in vanishing.RADII]
    assert all(a < b for a, b in zip(slopes, slopes[1:]))
    for radius, slope in zip(vanishing.RADII, slopes):
        assert abs(slope - math.log(radius)) < 0.03
    assert slopes[-1] > 0.3                                            # radius 1.5 explodes
    assert _tanh(curves, 1.5)["ratio_at_lag_50"] > 1e6
    assert _tanh(curves, 0.5)["ratio_at_lag_50"] < 1e-12
    assert 1e-4 < _tanh(curves, 0.9)["ratio_at_lag_50"] < 1e-1


def test_tiny_inputs_keep_the_tanh_nets_far_from_saturation(section):
    curves = section.numbers["tiny_inputs"]
    assert max(_tanh(curves, r)["max_abs_activity"] for r in vanishing.RADII) < 1e-2


def test_the_lstm_stays_flat(section):
    lstm = section.numbers["tiny_inputs"]["lstm"]
    assert abs(lstm["ln_slope_per_step"]) < 0.03
    assert lstm["ratio_at_lag_50"] > 1e-2
    assert section.holds


def test_saturated_units_make_every_tanh_gradient_vanish(section):
    curves = section.numbers["unit_inputs"]
    for radius in vanishing.RADII:
        assert _tanh(curves, radius)["ln_slope_per_step"] < math.log(radius) - 0.05
    assert _tanh(curves, 1.5)["ln_slope_per_step"] < 0


def test_figure_and_numbers_are_written(section):
    (path,) = section.figures
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(section.numbers)
    assert section.command == "unroll tour --only vanishing"
