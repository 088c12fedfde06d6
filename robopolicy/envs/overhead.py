"""What our planar MuJoCo tasks share: a model built from MJCF, 10 Hz control over fixed physics steps, and the
overhead camera that gives both the optional image observation and the video frames."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np

CONTROL_HZ = 10
# MJCF both tasks embed: offscreen buffers and a flat headlight without shadows or anti-aliasing (cheap software
# rendering), and the top-down camera ``_render`` reads (0.75 m above a 0.5 m table fills the frame).
MJCF_VISUAL = """  <visual>
    <global offwidth="640" offheight="640"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.6 0.6 0.6" diffuse="0.4 0.4 0.4" specular="0 0 0"/>
  </visual>"""
MJCF_OVERHEAD_CAMERA = '    <camera name="overhead" pos="0 0 0.75" xyaxes="1 0 0 0 1 0" fovy="40"/>'


class OverheadCameraEnv(gym.Env):
    """Base of Push-T and around-the-obstacle: ``model``/``data`` from ``xml``, ``substeps`` physics steps per control
    step, and ``_render(size)`` from the MJCF's camera named "overhead" (one cached renderer per size)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(self, xml: str, *, image_obs: bool, image_size: int, render_size: int, max_steps: int,
                 render_mode: str | None) -> None:
        self.image_obs = image_obs
        self.image_size = image_size
        self.render_size = render_size
        self.max_steps = max_steps
        self.render_mode = render_mode
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self.substeps = round(1.0 / (CONTROL_HZ * self.model.opt.timestep))
        self._renderers: dict[int, mujoco.Renderer] = {}
        self._steps = 0

    def image_space(self) -> gym.spaces.Box:
        """The observation space of ``overhead_image``: (image_size, image_size, 3) uint8."""
        return gym.spaces.Box(0, 255, shape=(self.image_size, self.image_size, 3), dtype=np.uint8)

    def render(self) -> np.ndarray:
        """Overhead RGB frame (render_size, render_size, 3) uint8 for videos."""
        return self._render(self.render_size)

    def _render(self, size: int) -> np.ndarray:
        renderer = self._renderers.get(size)
        if renderer is None:
            renderer = self._renderers[size] = mujoco.Renderer(self.model, size, size)
        renderer.update_scene(self.data, camera="overhead")
        return renderer.render()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
