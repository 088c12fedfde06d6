"""The attention benchmark times both attention kinds on one policy and checks they compute the same energy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from robopolicy.evaluation.benchmarks.common import pusht_policy
from robopolicy.evaluation.benchmarks.ebt_attention import attention, ebt_attention_suite, ebt_attention_table

TINY = {"dim": 16, "depth": 1, "action_patch": 4, "train_starts": 2, "obs_horizon": 4}


def test_both_attentions_are_timed_alternately_and_give_the_same_energy():
    result = ebt_attention_suite(SimpleNamespace(calls=2, warmup=1), {"tiny": TINY})
    cell = result["configs"]["tiny"]
    assert cell["calls"] == 2
    for kind in ("math", "explicit"):
        assert cell[kind]["train_step"] > 0 and cell[kind]["predict_chunk"] > 0
    assert cell["speedup"]["train_step"] == pytest.approx(cell["math"]["train_step"] / cell["explicit"]["train_step"])
    assert cell["max_energy_difference"] < 1e-5
    table = ebt_attention_table(result)
    assert "| tiny |" in table and "alternating call by call" in table


def test_the_attention_switch_selects_the_energy_network_s_kernel():
    policy = pusht_policy("ebt", TINY)
    assert policy.chunk_spec.obs_horizon == 4  # chunk keys in the overrides reach the chunk spec
    with attention(policy, "math"):
        assert not any(block.attn.explicit for block in policy.energy_net.blocks)
    with attention(policy, "explicit"):
        assert all(block.attn.explicit for block in policy.energy_net.blocks)
