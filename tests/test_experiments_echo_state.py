"""Tour section 7: an echo state network generates Mackey-Glass in closed loop (quick profile)."""
import json

from unroll.experiments import echo_state


def test_closed_loop_mackey_glass_meets_the_nrmse84_claim(tmp_path):
    section = echo_state.run(tmp_path, quick=True, seed=0)
    numbers = section.numbers
    assert numbers["runs"] == 3 and numbers["units"] == 400 and numbers["training_steps"] == 3000
    assert numbers["nrmse84"] <= 1e-3 and section.holds
    assert max(numbers["nrmse84_per_run"]) < 2e-3
    assert numbers["nrmse_at_steps"]["1"] <= numbers["nrmse84"] * 1.5       # errors grow (slowly) in closed loop
    assert section.command == "unroll tour --only echo_state" and "Jaeger" in section.claim
    assert [p.name for p in section.figures] == ["echo_state.png"]
    assert section.figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(numbers)


def test_nrmse_at_a_step_is_the_root_mean_squared_error_over_runs_by_the_variance():
    import torch
    runs = [{"truth": torch.zeros(3), "generated": torch.tensor([0.0, 0.0, 3.0]), "variance": 4.0},
            {"truth": torch.zeros(3), "generated": torch.tensor([0.0, 0.0, 1.0]), "variance": 4.0}]
    assert echo_state.nrmse_at(runs, 3) == (5 / 4) ** 0.5
    assert echo_state.nrmse_at(runs, 1) == 0.0
