"""scripts/deploy.py end to end on the simulated arm, and the deploy job's set-up errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hardware.deploy import deploy
from hardware.robot import ROBOT_CONF_DIR
from robopolicy.core import Normalizer, build_policy, save_checkpoint
from robopolicy.envs.pusht import PushTEnv
from tests.hardware.stubs import META, SPEC, pusht_dict
from tests.scripts.test_scripts import run

SEED = 1_000_000  # conf/deploy.yaml's sim.seed


def start_position(seed: int) -> np.ndarray:
    env = PushTEnv(render_mode=None)
    env.reset(seed=seed)
    return env.pusher_pos


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained, tiny diffusion policy whose actions (normalized into [-1, 1] and clipped there) all lie within
    1 mm of where the simulated pusher starts for SEED: it dithers in place, which every safety check accepts."""
    rng = np.random.default_rng(0)
    data = {"agent_pos": rng.uniform(-0.2, 0.2, (64, 2)), "object": rng.uniform(-1, 1, (64, 4)),
            "action": start_position(SEED) + rng.uniform(-0.001, 0.001, (64, 2))}
    config = {"name": "diffusion", "backbone": "mlp", "mlp_hidden": 32, "mlp_depth": 2, "step_embed_dim": 16,
              "sampler": "ddim", "num_inference_steps": 4}
    policy = build_policy({"policy": config, "shape_meta": META.to_dict(), "chunk_spec": SPEC.to_dict()},
                          Normalizer.fit(META, data))
    return save_checkpoint(tmp_path_factory.mktemp("deploy") / "ckpt", policy)


def job(checkpoint, **changes) -> dict:
    cfg = {"checkpoint": str(checkpoint), "robot": pusht_dict(), "backend": "sim", "weights": "ema", "device": "cpu",
           "max_seconds": 1.0, "max_ticks": None, "stop_on_success": True, "replan_every": None, "inference": {},
           "sim": {"seed": SEED, "realtime": False, "image_size": 96}}
    return {**cfg, **changes}


@pytest.mark.slow
def test_deploy_script_runs_a_checkpoint_on_the_simulated_arm(checkpoint):
    out = run("deploy.py", f"checkpoint={checkpoint}", "robot=pusht_sim", "max_seconds=2")
    assert f"deploy {checkpoint} on pusht_sim (sim backend)" in out.stdout
    assert "max_seconds after 20 ticks (2.00 s): 5 chunks, 5 trajectories" in out.stdout
    assert "arm told to hold" in out.stdout and "FAULT" not in out.stdout


def test_a_policy_far_from_the_arm_faults_at_the_first_chunk(checkpoint):
    # another seed puts the pusher elsewhere: the policy's first point is centimetres away in one tick
    result = deploy(job(checkpoint, sim={"seed": 3, "realtime": False}))
    assert not result.ok and result.loop.status == "fault" and result.loop.fault_tick == 0
    assert result.loop.fault_check in ("max_step", "velocity") and result.loop.trajectories_sent == 0
    assert "FAULT at tick 0" in result.summary() and "arm told to hold" in result.summary()


def test_a_clean_in_process_run_reports_the_score(checkpoint):
    result = deploy(job(checkpoint, max_seconds=None, max_ticks=8))
    assert result.ok and result.loop.status == "max_ticks" and result.loop.trajectories_sent == 2
    assert result.score is not None and 0.0 <= result.score <= 1.0


def test_unknown_backends_fail_with_the_list_of_valid_ones(checkpoint):
    with pytest.raises(ValueError, match=r"unknown backend 'ros2'; valid backends: sim, dds"):
        deploy(job(checkpoint, backend="ros2"))


def test_the_sim_backend_refuses_a_robot_it_cannot_simulate(checkpoint):
    ur5e = yaml.safe_load((ROBOT_CONF_DIR / "ur5e_ros2.yaml").read_text())
    with pytest.raises(ValueError, match="does not actuate"):
        deploy(job(checkpoint, robot=ur5e))
