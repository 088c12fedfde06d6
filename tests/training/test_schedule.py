"""The learning-rate schedule: warm-up + cosine over the run, or over one stage of it per parameter group."""

from __future__ import annotations

import pytest
import torch

from robopolicy.training.schedule import stage_schedule, warmup_cosine


def test_warmup_then_cosine_to_the_floor():
    values = [warmup_cosine(s, 4, 20, 0.1) for s in range(25)]
    assert values[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert values[4] == pytest.approx(1.0) and values[12] == pytest.approx(0.1 + 0.9 * 0.5)
    assert values[20:] == pytest.approx([0.1] * 5)
    assert all(a >= b for a, b in zip(values[3:], values[4:]))


def test_a_stage_gets_a_whole_schedule_of_its_own_inside_its_window():
    later = stage_schedule(10, 30, warmup_steps=4)
    assert [later(s) for s in range(10)] == [0.0] * 10  # not trained yet
    assert [later(10 + s) for s in range(20)] == pytest.approx([warmup_cosine(s, 4, 20) for s in range(20)])
    assert later(30) == later(1000) == pytest.approx(0.0)
    short = stage_schedule(0, 3, warmup_steps=10)  # a stage shorter than the warm-up still reaches the peak
    assert short(2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one step"):
        stage_schedule(5, 5, warmup_steps=1)


def test_the_trainer_schedules_each_parameter_group_over_its_window(tmp_path):
    from robopolicy.training.trainer import Trainer, TrainConfig

    class TwoStage(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first, self.second = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)

        def check_training_budget(self, num_steps: int) -> None:
            assert num_steps > 4

        def parameter_groups(self, lr: float) -> list[dict]:
            return [{"params": list(self.first.parameters()), "lr": 10 * lr, "first_step": 0, "last_step": 4},
                    {"params": list(self.second.parameters()), "lr": lr, "first_step": 4}]

    trainer = Trainer(TwoStage(), dataset=[0] * 8, cfg=TrainConfig(num_steps=12, batch_size=2, lr=1e-3, warmup_steps=2),
                      run_dir=tmp_path, progress=False)
    assert all("first_step" not in g and "last_step" not in g for g in trainer.optimizer.param_groups)
    lrs = []
    for _ in range(12):
        lrs.append([g["lr"] for g in trainer.optimizer.param_groups])
        trainer.optimizer.step()
        trainer.lr_schedule.step()
    assert [a for a, _ in lrs] == pytest.approx([1e-2 * warmup_cosine(s, 2, 4) for s in range(4)] + [0.0] * 8)
    assert [b for _, b in lrs] == pytest.approx([0.0] * 4 + [1e-3 * warmup_cosine(s, 2, 8) for s in range(8)])
