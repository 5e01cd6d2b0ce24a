"""ESN: teacher forcing and closed loop agree on the training sequence; FORCE learning; bad arguments."""
import pytest
import torch

from unroll.data.mackey_glass import mackey_glass
from unroll.reservoir import ESN, RLS, Reservoir, Ridge, nrmse

F64 = torch.float64


def _teacher(steps=300, seed=0):
    """An ESN with a fixed random readout generating on its own: its outputs are a target it can fit exactly."""
    reservoir = Reservoir(0, 60, spectral_radius=0.8, feedback_size=2, bias_scaling=0.3, dtype=F64, seed=seed)
    readout = Ridge()
    gen = torch.Generator().manual_seed(seed)
    readout.weight, readout.bias = 0.3 * torch.randn(2, 60, generator=gen, dtype=F64), torch.zeros(2, dtype=F64)
    esn = ESN(reservoir, readout)
    start = torch.full((1, 2), 0.2, dtype=F64)
    outputs, states = esn.generate(steps, reservoir.initial_state(1), start)
    return reservoir, esn, start, outputs, states


def test_teacher_forcing_on_the_closed_loop_outputs_retraces_the_closed_loop_states():
    reservoir, esn, start, outputs, states = _teacher()
    forced, last = esn.teacher_forced(None, outputs, y_before=start)
    torch.testing.assert_close(forced, states, rtol=0, atol=1e-12)
    torch.testing.assert_close(esn.predict(None, outputs, y_before=start), outputs, rtol=0, atol=1e-12)


def test_a_readout_fitted_by_teacher_forcing_regenerates_the_sequence_in_closed_loop():
    reservoir, teacher, start, outputs, _ = _teacher()
    student = ESN(reservoir, Ridge(0.0, fit_bias=False))
    student.fit(None, outputs[:200], washout=20, y_before=start)
    forced, _ = student.teacher_forced(None, outputs[:150], y_before=start)
    again, _ = student.generate(150, forced[-1], outputs[149])
    torch.testing.assert_close(again, outputs[150:], rtol=0, atol=1e-6)


def test_mackey_glass_closed_loop_follows_the_series_it_was_trained_on():
    series = mackey_glass(1500, seed=0).reshape(-1, 1, 1)
    reservoir = Reservoir(0, 200, spectral_radius=0.95, feedback_size=1, bias_scaling=0.2, connectivity=0.05,
                          dtype=F64, seed=0)
    esn = ESN(reservoir, Ridge(1e-10))
    esn.fit(None, series[:1000], washout=200)
    one_step = esn.predict(None, series[:1000])
    assert nrmse(one_step[200:], series[200:1000]) < 1e-3
    forced, _ = esn.teacher_forced(None, series[:800])
    closed, _ = esn.generate(50, forced[-1], series[799])        # from the training sequence's own state
    assert nrmse(closed, series[800:850]) < 1e-2
    torch.testing.assert_close(closed[0], one_step[800], rtol=0, atol=1e-12)   # same state, same feedback
    assert nrmse(closed[:10], one_step[800:810]) < 1e-2          # and they stay together for a while


def test_force_learning_with_rls_learns_a_sine_with_its_own_output_fed_back():
    t = torch.arange(1700, dtype=F64)
    wave = (0.5 * torch.sin(2 * torch.pi * t / 50)).reshape(-1, 1, 1)
    reservoir = Reservoir(0, 200, spectral_radius=1.5, leak=0.3, feedback_size=1, bias_scaling=0.2, dtype=F64)
    esn = ESN(reservoir, RLS(200, 1, alpha=1.0))
    outputs, last = esn.fit_online(None, wave[:1500], washout=50)
    assert nrmse(outputs[:50], wave[:50]) > 0.3                    # nothing learned during the washout
    assert nrmse(outputs[-300:], wave[1200:1500]) < 0.03
    closed, _ = esn.generate(200, last, outputs[-1])               # learning off, on its own
    assert nrmse(closed, wave[1500:]) < 0.1


def test_without_feedback_the_output_becomes_the_next_input_in_closed_loop():
    t = torch.arange(700, dtype=F64)
    wave = (0.5 * torch.sin(2 * torch.pi * t / 40)).reshape(-1, 1, 1)
    reservoir = Reservoir(1, 100, spectral_radius=0.9, bias_scaling=0.2, dtype=F64)
    esn = ESN(reservoir, Ridge(1e-9))
    last = esn.fit(wave[:499], wave[1:500], washout=100)            # input: the value before the target
    closed, _ = esn.generate(200, last, wave[499])
    assert nrmse(closed, wave[500:]) < 1e-2
    with pytest.raises(ValueError, match="takes its own output as input"):
        esn.generate(3, last, wave[499], u=wave[:3])


def test_bad_arguments_are_named():
    reservoir = Reservoir(0, 10, feedback_size=1)
    with pytest.raises(TypeError, match="reservoir: expected a Reservoir"):
        ESN("reservoir")
    with pytest.raises(TypeError, match="RLS"):
        ESN(reservoir).fit_online(None, torch.zeros(5, 1, 1))
    with pytest.raises(TypeError, match="Ridge"):
        ESN(reservoir, RLS(10, 1)).fit(None, torch.zeros(5, 1, 1))
    with pytest.raises(ValueError, match="steps: expected an int >= 1"):
        ESN(reservoir).generate(0, reservoir.initial_state(1), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="washout"):
        ESN(reservoir).fit(None, torch.zeros(5, 1, 1), washout=9)
    with pytest.raises(ValueError, match=r"y: expected one sequence \(T, 1, O\)"):
        ESN(reservoir, RLS(10, 1)).fit_online(None, torch.zeros(5, 2, 1))


def test_tanh_output_units_learn_the_atanh_of_the_target_and_squash():
    reservoir = Reservoir(1, 30, dtype=F64, seed=1)          # no feedback: both see the same states
    u = torch.rand(200, 1, 1, generator=torch.Generator().manual_seed(0), dtype=F64)
    y = 0.8 * torch.tanh(u.roll(1, 0))
    linear, squashed = ESN(reservoir, Ridge(1e-6)), ESN(reservoir, Ridge(1e-6), output="tanh")
    linear.fit(u, torch.atanh(y))
    squashed.fit(u, y)
    torch.testing.assert_close(squashed.readout.weight, linear.readout.weight)
    torch.testing.assert_close(squashed.predict(u, y), torch.tanh(linear.predict(u, y)))
    with pytest.raises(ValueError, match=r"y: expected targets in \(-1, 1\)"):
        squashed.fit(u, y + 1)
    with pytest.raises(ValueError, match="output: expected 'linear' or 'tanh'"):
        ESN(reservoir, output="relu")
