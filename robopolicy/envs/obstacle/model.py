"""Geometry and MuJoCo model (MJCF) of the around-the-obstacle task.

A 0.5 x 0.5 m workspace seen from above, y pointing up. The agent is a disk on x/y slide joints
driven by position actuators (the action is its target position), as Push-T's pusher. A wide box
sits on the centre line between the agent's start (bottom centre) and the goal disk (top centre);
the goal is drawn on the table and never collides. The obstacle is the only thing the agent can
touch, so any contact in the simulation is a collision.
"""

from __future__ import annotations

import numpy as np

from robopolicy.envs.overhead import MJCF_OVERHEAD_CAMERA, MJCF_VISUAL

WORKSPACE_HALF = 0.25  # the agent's centre stays within +-(WORKSPACE_HALF - AGENT_RADIUS)
AGENT_RADIUS = 0.0125
TIMESTEP = 0.002
HEIGHT = 0.01  # half height of the agent and the obstacle

START = (0.0, -0.19)  # nominal start of the agent's centre
START_RANGE = (0.02, 0.01)  # the start is uniform within START +- START_RANGE (x, y)
OBSTACLE_CENTER = (0.0, -0.02)
OBSTACLE_HALF = (0.09, 0.03)  # half extents (x, y): 4.5x the start's x range, so every start faces it
GOAL_CENTER = (0.0, 0.17)
GOAL_RADIUS = 0.025  # success: the agent's centre is within this distance of GOAL_CENTER


def obstacle_distance(point: np.ndarray) -> float:
    """Distance (m) from a point (2,) to the obstacle box; 0 inside it."""
    offset = np.abs(np.asarray(point, dtype=np.float64) - OBSTACLE_CENTER) - OBSTACLE_HALF
    return float(np.linalg.norm(np.maximum(offset, 0.0)))


def obstacle_xml() -> str:
    """MJCF of the task."""
    half = WORKSPACE_HALF
    (ox, oy), (hx, hy), (gx, gy) = OBSTACLE_CENTER, OBSTACLE_HALF, GOAL_CENTER
    return f"""
<mujoco model="around_obstacle">
  <option timestep="{TIMESTEP}" gravity="0 0 0" integrator="implicitfast"/>
{MJCF_VISUAL}
  <worldbody>
{MJCF_OVERHEAD_CAMERA}
    <geom name="table" type="plane" size="{half} {half} 0.01" rgba="0.93 0.93 0.9 1" contype="0" conaffinity="0"/>
    <geom name="goal" type="cylinder" pos="{gx} {gy} 0.0002" size="{GOAL_RADIUS} 0.0002" rgba="0.45 0.8 0.45 1"
          contype="0" conaffinity="0"/>
    <geom name="obstacle" type="box" pos="{ox} {oy} {HEIGHT}" size="{hx} {hy} {HEIGHT}" rgba="0.75 0.3 0.3 1"/>
    <body name="agent" pos="0 0 0">
      <joint name="agent_x" type="slide" axis="1 0 0" damping="0.5"/>
      <joint name="agent_y" type="slide" axis="0 1 0" damping="0.5"/>
      <geom name="agent" type="cylinder" pos="0 0 {HEIGHT + 0.001}" size="{AGENT_RADIUS} {HEIGHT}" mass="0.1"
            rgba="0.25 0.4 0.9 1"/>
    </body>
  </worldbody>
  <actuator>
    <position name="agent_x" joint="agent_x" kp="200" kv="6" forcerange="-8 8"/>
    <position name="agent_y" joint="agent_y" kp="200" kv="6" forcerange="-8 8"/>
  </actuator>
</mujoco>
"""
