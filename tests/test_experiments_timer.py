"""Tour section 1: Jaeger's timer learned by BPTT (quick profile)."""
import json

from unroll.experiments import timer


def test_both_nets_learn_the_timer_on_unseen_sequences(tmp_path):
    section = timer.run(tmp_path, quick=True, seed=0)
    numbers = section.numbers
    assert numbers["time_scale"] == 20 and numbers["nrmse_criterion"] == 0.25
    for name, most_steps in (("fully_recurrent", 2000), ("lstm", 600)):
        result = numbers[name]
        assert result["nrmse"] < 0.2                                  # the criterion is 0.25
        assert result["relative_duration_error"] < 0.05              # pulses within 5% of 20 x u2 steps
        assert result["duration_error"] < 0.5                         # steps
        assert result["training_steps"] == most_steps
        assert result["steps_to_criterion"] is not None
    assert section.holds
    assert "reservoir" in section.notes and section.command == "unroll tour --only timer"
    assert [p.name for p in section.figures] == ["timer.png"]
    assert section.figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(numbers)
