"""ROS messages without ROS: dataclasses, ROS 1 and ROS 2 (CDR) wire serialization, numpy conversions.

Nothing here imports a ROS package, so drivers for rospy, rclpy and cyclonedds (and tests on machines without ROS)
share one implementation: `ros1.serialize(msg)` / `ros1.deserialize(data, JointState)`, the same in `cdr`.
"""

from hardware.messages import cdr, ros1
from hardware.messages.convert import (
    IMAGE_CHANNELS,
    float64_multiarray_to_numpy,
    image_to_numpy,
    joint_state_to_numpy,
    numpy_to_float64_multiarray,
    numpy_to_image,
    numpy_to_joint_trajectory,
)
from hardware.messages.types import (
    Bool,
    CompressedImage,
    Duration,
    Float64MultiArray,
    Header,
    Image,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    Message,
    MultiArrayDimension,
    MultiArrayLayout,
    Ros1Header,
    Time,
)

__all__ = [
    "IMAGE_CHANNELS", "Bool", "CompressedImage", "Duration", "Float64MultiArray", "Header", "Image", "JointState",
    "JointTrajectory", "JointTrajectoryPoint", "Message", "MultiArrayDimension", "MultiArrayLayout", "Ros1Header",
    "Time", "cdr", "float64_multiarray_to_numpy", "image_to_numpy", "joint_state_to_numpy",
    "numpy_to_float64_multiarray", "numpy_to_image", "numpy_to_joint_trajectory", "ros1",
]
