"""Test doubles for the hardware layer: a policy that walks from the observed position (and can misbehave on cue),
a driver that records every call, the Push-T robot config as a dict to vary, and Push-T scenes to start from."""

from __future__ import annotations

import copy

import numpy as np
import torch
import yaml

from hardware.clock import ManualClock
from hardware.driver import ArmDriver, ArmState
from hardware.robot import ROBOT_CONF_DIR, RobotConfig
from robopolicy.core import Chunk, ChunkSpec, Normalizer, ObsSpec, Policy, ShapeMeta, build_policy
from robopolicy.envs.pusht import PushTEnv

META = ShapeMeta(obs={"agent_pos": ObsSpec((2,)), "object": ObsSpec((4,))}, action_dim=2)
SPEC = ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4)


# The motion limits the safety tests are written against, fixed here so that tuning the shipped config's limits
# does not move them: 0.5 m/s, 5 m/s^2, at most 5 cm per tick.
TEST_VELOCITY, TEST_ACCELERATION, TEST_MAX_STEP = 0.5, 5.0, 0.05


def pusht_dict() -> dict:
    """conf/robot/pusht_sim.yaml as a fresh dict with the tests' motion limits (edit it to make a bad or different
    config)."""
    data = copy.deepcopy(yaml.safe_load((ROBOT_CONF_DIR / "pusht_sim.yaml").read_text()))
    for joint in data["joints"]:
        joint.update(velocity=TEST_VELOCITY, acceleration=TEST_ACCELERATION)
    data["max_step"] = TEST_MAX_STEP
    return data


def pusht_robot(**changes) -> RobotConfig:
    """The Push-T robot config with top-level entries replaced."""
    return RobotConfig.from_dict({**pusht_dict(), **changes})


def start_position(seed: int) -> np.ndarray:
    """Where the simulated pusher starts for Push-T seed ``seed`` (2,)."""
    env = PushTEnv(render_mode=None)
    env.reset(seed=seed)
    return env.pusher_pos


def dithering_policy(seed: int) -> Policy:
    """An untrained, tiny diffusion policy whose actions (normalized into [-1, 1] and clipped there) all lie within
    1 mm of where the simulated pusher starts for Push-T seed ``seed``: it dithers in place, which every safety check
    accepts."""
    rng = np.random.default_rng(0)
    data = {"agent_pos": rng.uniform(-0.2, 0.2, (64, 2)), "object": rng.uniform(-1, 1, (64, 4)),
            "action": start_position(seed) + rng.uniform(-0.001, 0.001, (64, 2))}
    config = {"name": "diffusion", "backbone": "mlp", "mlp_hidden": 32, "mlp_depth": 2, "step_embed_dim": 16,
              "sampler": "ddim", "num_inference_steps": 4}
    return build_policy({"policy": config, "shape_meta": META.to_dict(), "chunk_spec": SPEC.to_dict()},
                        Normalizer.fit(META, data))


def scene(pusher=(-0.1, -0.1), block=(0.12, 0.12, 0.0)) -> np.ndarray:
    """A Push-T state ((12,), as PushTEnv.get_state) with the pusher and block where we want them, at rest."""
    env = PushTEnv(render_mode=None)
    env.reset(seed=0)
    state = env.get_state()
    adr = {n: env.model.joint(n).qposadr[0] for n in ("pusher_x", "pusher_y", "block_x", "block_y", "block_theta")}
    state[[adr["block_x"], adr["block_y"], adr["block_theta"]]] = block
    state[[adr["pusher_x"], adr["pusher_y"]]] = pusher
    state[env.model.nq:env.model.nq + env.model.nv] = 0.0
    state[env.model.nq + env.model.nv:] = pusher
    return state


class WalkPolicy(Policy):
    """Executed action j of every chunk = last observed agent_pos + (j + 1) * step: a steady walk.

    On prediction number ``fault_call`` (0-based) it misbehaves as ``fault`` says: "nan" (a NaN in the chunk),
    "jump" (the chunk starts 0.2 m away), "raise" (predict_chunk raises), "slow" (advances ``clock`` by
    ``slow_s`` while predicting), "estop" (presses ``estop`` while predicting).
    """

    def __init__(self, step=(0.005, 0.0), *, fault: str | None = None, fault_call: int = 0,
                 clock: ManualClock | None = None, slow_s: float = 1.0, estop=None) -> None:
        super().__init__(META, SPEC, Normalizer(META), {})
        self.dummy = torch.nn.Parameter(torch.zeros(1))  # gives the policy a device
        self.step = torch.tensor(step, dtype=torch.float64)
        self.fault, self.fault_call, self.clock, self.slow_s, self.estop = fault, fault_call, clock, slow_s, estop
        self.calls = 0

    def compute_loss(self, batch):
        raise AssertionError("not trained")

    def predict_chunk(self, obs, *, num_samples=1, noise=None, generator=None):
        call, self.calls = self.calls, self.calls + 1
        last = obs["agent_pos"][:, -1].double()  # (B, 2)
        offsets = torch.arange(SPEC.pred_horizon, dtype=torch.float64) - (SPEC.obs_horizon - 1) + 1  # 1 at To-1
        full = last[:, None] + offsets[None, :, None] * self.step  # (B, Tp, 2)
        if call == self.fault_call:
            if self.fault == "nan":
                full[:, SPEC.obs_horizon + 1, 0] = float("nan")
            elif self.fault == "jump":
                full = full + 0.2
            elif self.fault == "raise":
                raise RuntimeError("the network fell over")
            elif self.fault == "slow":
                self.clock.advance(self.slow_s)
            elif self.fault == "estop":
                self.estop.press("operator pressed the e-stop")
        return Chunk(actions=full[:, SPEC.executed], full=full, info={"nfe": 1})


class RecordingDriver(ArmDriver):
    """A pretend arm that reports a fixed pose stamped by ``clock`` and logs every call by name.

    freeze_after: after this many reads the state stops updating (its stamp freezes: a stalled stream).
    raise_in / raise_on_call: the method that raises RuntimeError, and on which of its calls (0-based).
    success_after: task_success() turns True from this read on.
    """

    def __init__(self, robot: RobotConfig, clock: ManualClock, *, position=(0.0, 0.0), freeze_after: int | None = None,
                 raise_in: str | None = None, raise_on_call: int = 0, success_after: int | None = None) -> None:
        super().__init__(robot)
        self.clock = clock
        self.position = np.array(position, dtype=np.float64)
        self.freeze_after, self.raise_in, self.raise_on_call = freeze_after, raise_in, raise_on_call
        self.success_after = success_after
        self.calls: list[str] = []
        self.sent: list[tuple] = []
        self.reads = 0
        self._stamp = clock.now()

    def _log(self, name: str) -> None:
        if name == self.raise_in and self.calls.count(name) == self.raise_on_call:
            self.calls.append(name)
            raise RuntimeError(f"{name} failed: the transport is down")
        self.calls.append(name)

    def connect(self):
        self._log("connect")

    def read_state(self):
        self._log("read_state")
        if self.freeze_after is None or self.reads < self.freeze_after:
            self._stamp = self.clock.now()
        self.reads += 1
        return ArmState(stamp=self._stamp, positions=self.position.copy(), velocities=np.zeros(2),
                        extras={"object_pose": np.array([0.05, 0.0, 1.0, 0.0])})

    def send_trajectory(self, positions, dt, start_stamp):
        self._log("send_trajectory")
        self.sent.append(("trajectory", np.array(positions), dt, start_stamp))

    def send_setpoint(self, positions):
        self._log("send_setpoint")
        self.sent.append(("setpoint", np.array(positions)))

    def hold(self):
        self._log("hold")

    def estop(self):
        self._log("estop")

    def close(self):
        self._log("close")

    def task_success(self):
        return self.success_after is not None and self.reads > self.success_after

    def calls_after_first(self, name: str) -> list[str]:
        """Every call from the first ``name`` on."""
        return self.calls[self.calls.index(name):]
