"""scripts/deploy.py end to end on the simulated arm, and the deploy job's set-up errors."""

from __future__ import annotations

import pytest
import yaml

from hardware.command_log import read_log
from hardware.deploy import deploy, resolve_log_path
from hardware.robot import ROBOT_CONF_DIR
from robopolicy.core import save_checkpoint
from tests.hardware.stubs import dithering_policy, pusht_dict
from tests.scripts.test_scripts import run

SEED = 1_000_000  # conf/deploy.yaml's sim.seed


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A policy dithering within 1 mm of the pusher's start for SEED (tests/hardware/stubs.py)."""
    return save_checkpoint(tmp_path_factory.mktemp("deploy") / "ckpt", dithering_policy(SEED))


@pytest.fixture(scope="module")
def pusht_checkpoint(tmp_path_factory):
    """The same policy, saved with the env_args of Push-T (10 Hz) as a trained checkpoint has them."""
    env_args = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {"image_obs": False, "max_steps": 300}}
    return save_checkpoint(tmp_path_factory.mktemp("deploy") / "ckpt", dithering_policy(SEED), config={"env_args": env_args})


def test_a_robot_ticking_at_another_rate_than_training_is_refused_unless_allowed(pusht_checkpoint):
    robot = {**pusht_dict(), "control_rate_hz": 20}
    with pytest.raises(ValueError, match=r"trained on robopolicy/PushT-v0 at 10 Hz, but robot 'pusht_sim' ticks at "
                                         r"control_rate_hz 20 Hz.*2x as fast.*robot.control_rate_hz=10"):
        deploy(job(pusht_checkpoint, robot=robot))
    assert deploy(job(pusht_checkpoint, robot=robot, allow_rate_mismatch=True, max_ticks=2, max_seconds=None)).loop.ticks == 2
    assert deploy(job(pusht_checkpoint, max_ticks=2, max_seconds=None)).loop.ticks == 2  # 10 Hz, as trained


def test_control_rates_are_read_from_env_args_without_building_the_env():
    from robopolicy.envs import control_rate_hz

    assert control_rate_hz({"env_name": "robopolicy/PushT-v0", "type": 2}) == 10.0
    assert control_rate_hz({"env_name": "robopolicy/AroundObstacle-v0", "type": 2}) == 10.0
    assert control_rate_hz({"env_name": "Lift", "type": 1, "env_kwargs": {"control_freq": 20}}) == 20.0
    assert control_rate_hz({"env_name": "NotRegistered-v0", "type": 2}) is None


def job(checkpoint, **changes) -> dict:
    cfg = {"checkpoint": str(checkpoint), "robot": pusht_dict(), "backend": "sim", "weights": "ema", "device": "cpu",
           "max_seconds": 1.0, "max_ticks": None, "stop_on_success": True, "replan_every": None, "inference": {},
           "sim": {"seed": SEED, "realtime": False, "image_size": 96}}
    return {**cfg, **changes}


@pytest.mark.slow
def test_deploy_script_runs_a_checkpoint_on_the_simulated_arm(checkpoint, tmp_path):
    log = tmp_path / "log.jsonl"
    out = run("deploy.py", f"checkpoint={checkpoint}", "robot=pusht_sim", "max_seconds=2", f"log_path={log}")
    assert f"deploy {checkpoint} on pusht_sim (sim backend)" in out.stdout
    assert "max_seconds after 20 ticks (2.00 s): 5 chunks, 5 trajectories" in out.stdout
    assert "arm told to hold" in out.stdout and "FAULT" not in out.stdout
    assert "[deploy] t=1.0 s tick 10: 10.0 ticks/s" in out.stdout  # status_every_s: 1.0 on simulated time
    assert [r["kind"] for r in read_log(log)] == ["trajectory"] * 5 and f"command log: {log}" in out.stdout


@pytest.mark.slow
def test_deploy_script_dry_run_prints_the_commands(checkpoint, tmp_path):
    out = run("deploy.py", f"checkpoint={checkpoint}", "max_seconds=1", "dry_run=true", "log_path=null")
    assert out.stdout.count("would send trajectory of 4 points") == 3 and "DRY RUN" in out.stdout
    assert "arm told to hold" not in out.stdout and "command log" not in out.stdout


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


def test_action_horizon_sets_how_many_actions_of_each_chunk_the_arm_executes(checkpoint):
    # the checkpoint executes Ta = 4 of each 8-action chunk (To = 2): 8 ticks are 2 trajectories of 4 points
    for horizon, trajectories in ((2, 4), (7, 2)):  # 7 ticks of the first chunk, then the second one's first tick
        result = deploy(job(checkpoint, max_seconds=None, max_ticks=8, action_horizon=horizon))
        assert result.ok and result.loop.trajectories_sent == trajectories and result.loop.chunks == trajectories
    with pytest.raises(ValueError, match=r"cannot execute action_horizon=8 actions per chunk.*Leave action_horizon at null"):
        deploy(job(checkpoint, max_seconds=None, max_ticks=8, action_horizon=8))  # 2 - 1 + 8 > 8


def test_unknown_backends_fail_with_the_list_of_valid_ones(checkpoint):
    with pytest.raises(ValueError, match=r"unknown backend 'ros3'; valid backends: sim, dds, ros1, ros2"):
        deploy(job(checkpoint, backend="ros3"))


def test_the_sim_backend_refuses_a_robot_it_cannot_simulate(checkpoint):
    ur5e = yaml.safe_load((ROBOT_CONF_DIR / "ur5e_ros2.yaml").read_text())
    with pytest.raises(ValueError, match="does not actuate"):
        deploy(job(checkpoint, robot=ur5e))


def test_a_dry_run_through_the_deploy_job_logs_what_it_would_send(checkpoint, tmp_path, capsys):
    log = tmp_path / "runs" / "log.jsonl"
    result = deploy(job(checkpoint, max_seconds=None, max_ticks=8, dry_run=True, log_path=str(log)))
    assert result.ok and result.loop.dry_run and not result.loop.held and result.loop.trajectories_sent == 2
    records = read_log(log)
    assert [r["kind"] for r in records] == ["trajectory", "trajectory"] and all(r["dry_run"] for r in records)
    assert capsys.readouterr().out.count("[dry run] tick") == 2
    assert f"command log: {log}" in result.summary()


def test_the_log_path_is_relative_to_the_run_directory_and_null_disables_it(checkpoint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_log_path(None) is None and resolve_log_path("/abs/log.jsonl").as_posix() == "/abs/log.jsonl"
    result = deploy(job(checkpoint, max_seconds=None, max_ticks=4, log_path="deploy_log.jsonl"))
    assert result.ok and len(read_log(tmp_path / "deploy_log.jsonl")) == 1
    assert deploy(job(checkpoint, max_seconds=None, max_ticks=4)).log_path is None
    with pytest.raises(ValueError, match=r"dry_run must be true or false, got 'yes'"):
        deploy(job(checkpoint, max_ticks=4, dry_run="yes"))


def test_sigusr1_mid_run_ends_the_deploy_with_the_estop_and_restores_the_previous_handler(checkpoint, tmp_path,
                                                                                         monkeypatch):
    """SIGUSR1 delivered right after the second trajectory is sent (from inside the driver, so the tick is known):
    the next e-stop poll ends the run with the arm's e-stop; nothing is executed after it."""
    import os
    import signal

    from hardware import deploy as deploy_module

    drivers = []

    def sim_with_signal(robot, clock, options):
        driver = deploy_module._sim(robot, clock, options)
        send = driver.send_trajectory

        def send_then_signal(*args, **kwargs):
            send(*args, **kwargs)
            if sum(c.kind == "trajectory" for c in driver.commands) == 2:
                os.kill(os.getpid(), signal.SIGUSR1)
        driver.send_trajectory = send_then_signal
        drivers.append(driver)
        return driver

    monkeypatch.setitem(deploy_module.BACKENDS, "sim", sim_with_signal)

    def previous(signum, frame):
        raise AssertionError("the deploy's handler should have caught SIGUSR1")

    old = signal.signal(signal.SIGUSR1, previous)
    try:
        log = tmp_path / "log.jsonl"
        result = deploy(job(checkpoint, max_seconds=None, max_ticks=40, log_path=str(log),
                            estop={"signals": ["SIGUSR1"], "keyboard": False}))
        assert signal.getsignal(signal.SIGUSR1) is previous
    finally:
        signal.signal(signal.SIGUSR1, old)
    loop = result.loop
    assert loop.status == "estop" and loop.fault == "signal SIGUSR1 received" and not result.ok
    assert loop.ticks == 5 and loop.trajectories_sent == 2  # the second chunk went out at tick 4
    executed = [c.kind for c in drivers[0].commands if not c.ignored]
    assert executed == ["trajectory", "trajectory", "estop"]  # the e-stop last, once, no hold
    # after it only the context manager's hold on the way out, which the latched e-stop ignores
    assert [(c.kind, c.ignored) for c in drivers[0].commands[3:]] == [("hold", True)]
    records = read_log(log)
    assert [r["kind"] for r in records] == ["trajectory", "trajectory", "estop"]
    assert records[-1]["reason"] == "signal SIGUSR1 received" and "E-STOP: signal SIGUSR1" in result.summary()


def test_a_failing_deploy_restores_the_signal_handlers_too(checkpoint):
    import signal

    before = signal.getsignal(signal.SIGUSR1)
    ur5e = yaml.safe_load((ROBOT_CONF_DIR / "ur5e_ros2.yaml").read_text())
    with pytest.raises(ValueError, match="does not actuate"):  # raised while the e-stop handlers are installed
        deploy(job(checkpoint, robot=ur5e))
    assert signal.getsignal(signal.SIGUSR1) is before
    with pytest.raises(ValueError, match="SIGINT is Ctrl-C"):
        deploy(job(checkpoint, estop={"signals": ["SIGINT"]}))
