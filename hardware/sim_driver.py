"""An in-process MuJoCo arm: a robopolicy task scene (hardware/sim_scenes.py) behind the ArmDriver interface, with no
middleware.

The simulation runs in the clock's time. Whenever the driver is called it first steps the physics up to
``clock.now()`` (2 ms steps), with the position actuators following a simulated controller (TrajectoryFollower).
With a ManualClock the world waits while the policy thinks, and tests never sleep; with a WallClock it runs in real
time and inference latency moves the arm on exactly as it would on hardware.

Every command is turned into the ROS message a ROS backend would publish (JointTrajectory, Float64MultiArray),
recorded in ``commands``, and followed from that message, so tests can assert on what was sent.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

# Offscreen rendering (camera frames) without a display; this must be set before mujoco is first imported.
os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from hardware.clock import Clock, ManualClock  # noqa: E402
from hardware.driver import ArmDriver, ArmState  # noqa: E402
from hardware.messages import (  # noqa: E402
    Float64MultiArray,
    JointTrajectory,
    float64_multiarray_to_numpy,
    numpy_to_float64_multiarray,
    numpy_to_joint_trajectory,
)
from hardware.robot import RobotConfig  # noqa: E402
from hardware.trajectory_follower import TrajectoryFollower  # noqa: E402
from hardware.sim_scenes import SCENES  # noqa: E402
CAMERA = "overhead"  # the scene's only camera


@dataclass
class ReceivedCommand:
    """One call that reached the simulated arm: kind ("trajectory", "setpoint", "hold", "estop"), when (clock
    seconds), the message a ROS backend would have published (None for hold/estop), and whether it was ignored
    because the e-stop had latched."""

    kind: str
    time: float
    message: JointTrajectory | Float64MultiArray | None = None
    ignored: bool = False


class SimArmDriver(ArmDriver):
    """A disk on two slide joints as a 2-joint arm, simulated in the clock's time, in the robot config's
    ``sim_scene`` (hardware/sim_scenes.py: Push-T's pusher, conf/robot/pusht_sim.yaml, or the obstacle task's agent,
    conf/robot/obstacle_sim.yaml).

    seed: the episode's initial state, as the scene env's ``reset(seed=seed)``; ``initial_state`` (the env's
    ``get_state()`` layout) overrides it. Cameras named in the robot config are rendered from the scene's overhead
    camera at ``image_size`` pixels (needs an offscreen GL context).
    """

    def __init__(self, robot: RobotConfig, *, clock: Clock | None = None, seed: int = 0,
                 initial_state: np.ndarray | None = None, image_size: int = 96) -> None:
        super().__init__(robot)
        self.clock = clock if clock is not None else ManualClock()
        self.seed = seed
        self.initial_state = None if initial_state is None else np.asarray(initial_state, dtype=np.float64)
        self.image_size = image_size
        self.scene = SCENES[robot.sim_scene]()
        self.env = self.scene.env
        self.model, self.data = self.env.model, self.env.data
        self._qpos, self._qvel, self._actuators = self._joint_addresses()
        self._check_sources()
        self.commands: list[ReceivedCommand] = []
        self.estopped = False
        self._renderer: mujoco.Renderer | None = None
        self._connected = False
        self._closed = False
        self._t0 = 0.0  # clock time of physics step 0
        self._steps = 0  # physics steps taken since connect
        self.max_score = 0.0  # the highest score() read since connect (task_success reads it too)
        self.follower: TrajectoryFollower | None = None

    # ----------------------------------------------------------------------------------------- set-up
    def _joint_addresses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """qpos / qvel / actuator indices of the robot config's joints, in its order."""
        model = self.model
        actuated = {}
        for a in range(model.nu):
            if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT:
                actuated[model.joint(int(model.actuator_trnid[a, 0])).name] = a
        missing = [n for n in self.robot.joint_names if n not in actuated]
        if missing:
            raise ValueError(f"robot '{self.robot.name}' has joints {missing} that the {self.robot.sim_scene} scene "
                             f"does not actuate; its joints are {sorted(actuated)} (robot=pusht_sim and "
                             "robot=obstacle_sim describe the two scenes)")
        names = self.robot.joint_names
        qpos = np.array([model.joint(n).qposadr[0] for n in names], dtype=np.intp)
        qvel = np.array([model.joint(n).dofadr[0] for n in names], dtype=np.intp)
        return qpos, qvel, np.array([actuated[n] for n in names], dtype=np.intp)

    def _check_sources(self) -> None:
        extras = [s.extra for s in self.robot.observations.values() if s.extra is not None]
        unknown = [e for e in extras if e not in self.scene.extras]
        if unknown:
            raise ValueError(f"robot '{self.robot.name}' asks for extra sources {unknown}; the simulated arm's "
                             f"{self.robot.sim_scene} scene provides {list(self.scene.extras)}")
        if len(self.robot.cameras) > 1:
            raise ValueError(f"robot '{self.robot.name}' lists cameras {list(self.robot.cameras)}; the simulated "
                             f"scene has one camera ('{CAMERA}'), so list at most one")

    # --------------------------------------------------------------------------------------- ArmDriver
    def connect(self) -> None:
        """Reset the scene (seed or initial_state), start simulated time at ``clock.now()``, hold still."""
        if self._closed:
            raise RuntimeError("SimArmDriver is closed; build a new one")
        self.scene.reset(self.seed, self.initial_state)
        self._t0, self._steps = self.clock.now(), 0
        self.follower = TrajectoryFollower(self.robot.joint_names, self._positions(),
                                           self.robot.controller.command_timeout_s)
        self.estopped = False
        self.commands.clear()
        self._connected = True
        self.max_score = 0.0
        self.score()

    def read_state(self) -> ArmState:
        self._advance()
        images = {key: self._render() for key in self.robot.cameras}
        return ArmState(
            stamp=self.sim_time,
            positions=self._positions(),
            velocities=self.data.qvel[self._qvel].copy(),
            extras=self.scene.extra_values(),
            images=images,
            image_stamps={key: self.sim_time for key in images},
        )

    def send_trajectory(self, positions: np.ndarray, dt: float, start_stamp: float) -> None:
        self.follow_trajectory(numpy_to_joint_trajectory(positions, dt, self.robot.joint_names, start_stamp))

    def send_setpoint(self, positions: np.ndarray) -> None:
        self.follow_setpoint(numpy_to_float64_multiarray(positions))

    def follow_trajectory(self, msg: JointTrajectory) -> bool:
        """Receive a JointTrajectory as the simulated joint_trajectory_controller would (joints in any order, any
        point times); what a ROS-facing wrapper (hardware/dds/sim_node.py) calls for each message it receives.

        Returns False when the e-stop has latched and the message was ignored; raises ValueError for a message the
        controller would reject (it is still recorded).
        """
        self._advance()
        if not self._record("trajectory", msg):
            return False
        self.follower.receive_trajectory(msg, self.sim_time, self._positions())
        self._apply()
        return True

    def follow_setpoint(self, msg: Float64MultiArray) -> bool:
        """Receive a Float64MultiArray setpoint (one value per joint, in the robot config's order) as the simulated
        forward position controller would. Returns False when ignored after the e-stop; ValueError when malformed."""
        self._advance()
        positions = float64_multiarray_to_numpy(msg)
        if len(positions) != self.robot.num_joints:
            raise ValueError(f"setpoint has {len(positions)} values for joints {self.robot.joint_names}")
        if not self._record("setpoint", msg):
            return False
        self.follower.receive_setpoint(positions, self.sim_time)
        self._apply()
        return True

    def hold(self) -> None:
        self._advance()
        if self._record("hold"):
            self.follower.hold(self._positions())
            self._apply()

    def estop(self) -> None:
        """Latch: the pusher holds where it is now, and every later command is recorded as ignored."""
        self._advance()
        if self._record("estop"):
            self.follower.hold(self._positions())
            self._apply()
            self.estopped = True

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.env.close()
        self._closed = True
        self._connected = False

    def task_success(self) -> bool:
        self.score()  # keeps max_score up to date
        return self.scene.success()

    # ------------------------------------------------------------------------------------------ extras
    @property
    def sim_time(self) -> float:
        """Clock time of the latest physics step."""
        return self._t0 + self._steps * self.model.opt.timestep

    @property
    def ignored_commands(self) -> int:
        """Commands that arrived after the e-stop latched (and were not executed)."""
        return sum(c.ignored for c in self.commands)

    def score(self) -> float:
        """The scene's score now, 0..1 (also kept in ``max_score``, the highest read since connect: sampled whenever
        the score or task success is read, e.g. once per control tick)."""
        score = self.scene.score()
        self.max_score = max(self.max_score, score)
        return score

    def desired_positions(self) -> np.ndarray:
        """(J,) the simulated controller's current position targets (what the actuators are driven to)."""
        return self.data.ctrl[self._actuators].copy()

    # ---------------------------------------------------------------------------------------- internals
    def _positions(self) -> np.ndarray:
        return self.data.qpos[self._qpos].copy()

    def _apply(self) -> None:
        """Drive the actuators to the controller's target now, rather than at the next physics step."""
        self.data.ctrl[self._actuators] = self.follower.target(self.sim_time, self._positions())

    def _record(self, kind: str, message: JointTrajectory | Float64MultiArray | None = None) -> bool:
        """Log a command; False if the e-stop has latched and it must be ignored."""
        self.commands.append(ReceivedCommand(kind, self.sim_time, message, ignored=self.estopped))
        return not self.estopped

    def _advance(self) -> None:
        """Step the physics up to the clock's time, the controller setting the actuator targets before each step."""
        if not self._connected:
            raise RuntimeError("SimArmDriver: call connect() first (or use it as a context manager)")
        timestep = self.model.opt.timestep
        target_steps = math.floor((self.clock.now() - self._t0) / timestep + 1e-6)
        while self._steps < target_steps:
            self._apply()
            mujoco.mj_step(self.model, self.data)
            self.scene.after_physics_step()
            self._steps += 1

    def _render(self) -> np.ndarray:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
        self._renderer.update_scene(self.data, camera=CAMERA)
        return self._renderer.render()
