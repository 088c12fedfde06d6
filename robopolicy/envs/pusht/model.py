"""The Push-T MuJoCo model (MJCF), generated from the T geometry so the physics and the score agree.

A 0.5 x 0.5 m walled table seen from above. The pusher is a disk on x/y slide joints driven by
position actuators (the action is its target position). The T block moves in the plane on x, y and
hinge joints; joint damping and a little friction loss make it quasi-static, so it moves only while
pushed, like a block sliding on a table. The goal T is drawn on the table and never collides.
"""

from __future__ import annotations

from robopolicy.envs.overhead import MJCF_OVERHEAD_CAMERA, MJCF_VISUAL
from robopolicy.envs.pusht.geometry import BAR_CENTER, BAR_HALF, STEM_CENTER, STEM_HALF

TABLE_HALF = 0.25  # the walls' inner faces are at +-TABLE_HALF
PUSHER_RADIUS = 0.0125
TIMESTEP = 0.002
HEIGHT = 0.01  # half height of the block and pusher


def _tee_geoms(name: str, rgba: str, half_height: float, extra: str) -> str:
    """The two boxes of a T, resting on the table."""
    return "\n".join(
        f'<geom name="{name}_{part}" type="box" pos="{cx} {cy} {half_height + 0.001}" size="{hx} {hy} {half_height}" '
        f'rgba="{rgba}" {extra}/>'
        for part, (cx, cy), (hx, hy) in (("bar", BAR_CENTER, BAR_HALF), ("stem", STEM_CENTER, STEM_HALF))
    )


def pusht_xml(goal_pose: tuple[float, float, float]) -> str:
    """MJCF for the task with the goal T drawn at ``goal_pose`` = (x, y, theta)."""
    gx, gy, gtheta = goal_pose
    wall = TABLE_HALF + 0.01
    return f"""
<mujoco model="pusht">
  <compiler angle="radian"/>
  <option timestep="{TIMESTEP}" gravity="0 0 0" integrator="implicitfast"/>
{MJCF_VISUAL}
  <default>
    <geom contype="1" conaffinity="1" condim="3" friction="0.4 0.005 0.0001"/>
  </default>
  <worldbody>
{MJCF_OVERHEAD_CAMERA}
    <geom name="table" type="plane" size="{wall + 0.01} {wall + 0.01} 0.01" rgba="0.93 0.93 0.9 1" contype="0" conaffinity="0"/>
    <geom name="wall_n" type="box" pos="0 {wall} {HEIGHT}" size="{wall + 0.01} 0.01 {HEIGHT}" rgba="0.3 0.3 0.3 1"/>
    <geom name="wall_s" type="box" pos="0 {-wall} {HEIGHT}" size="{wall + 0.01} 0.01 {HEIGHT}" rgba="0.3 0.3 0.3 1"/>
    <geom name="wall_e" type="box" pos="{wall} 0 {HEIGHT}" size="0.01 {wall + 0.01} {HEIGHT}" rgba="0.3 0.3 0.3 1"/>
    <geom name="wall_w" type="box" pos="{-wall} 0 {HEIGHT}" size="0.01 {wall + 0.01} {HEIGHT}" rgba="0.3 0.3 0.3 1"/>
    <body name="goal" pos="{gx} {gy} 0" euler="0 0 {gtheta}">
      {_tee_geoms("goal", "0.45 0.8 0.45 1", 0.0002, 'contype="0" conaffinity="0"')}
    </body>
    <body name="block" pos="0 0 0">
      <joint name="block_x" type="slide" axis="1 0 0" damping="2.0" frictionloss="0.01"/>
      <joint name="block_y" type="slide" axis="0 1 0" damping="2.0" frictionloss="0.01"/>
      <joint name="block_theta" type="hinge" axis="0 0 1" damping="0.002" frictionloss="0.00002"/>
      {_tee_geoms("block", "0.4 0.47 0.6 1", HEIGHT, 'density="1000"')}
    </body>
    <body name="pusher" pos="0 0 0">
      <joint name="pusher_x" type="slide" axis="1 0 0" damping="0.5"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" damping="0.5"/>
      <geom name="pusher" type="cylinder" pos="0 0 {HEIGHT + 0.001}" size="{PUSHER_RADIUS} {HEIGHT}" mass="0.1" rgba="0.25 0.4 0.9 1"/>
    </body>
  </worldbody>
  <actuator>
    <position name="pusher_x" joint="pusher_x" kp="200" kv="6" forcerange="-8 8"/>
    <position name="pusher_y" joint="pusher_y" kp="200" kv="6" forcerange="-8 8"/>
  </actuator>
</mujoco>
"""
