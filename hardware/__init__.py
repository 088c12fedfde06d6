"""ROS-compatible driver layer: runs a robopolicy checkpoint on a physical arm (see DESIGN.md, docs/hardware.md).

Depends on robopolicy, never the reverse.

    robot.py                the arm description (conf/robot/*.yaml) as a validated RobotConfig
    driver.py               the ArmDriver interface, ArmState, and timing a chunk for sending (schedule_chunk)
    safety.py               ChunkSafety (whole-chunk limit checks), Watchdog, EStop, SafetyFault
    mapping.py              policy observation/action keys <-> joints, cameras and extra sources
    control_loop.py         the deploy loop around PolicyRunner: any fault -> hold once, send nothing more
    clock.py                wall clock on hardware, manual clock for tests and lockstep simulation
    trajectory_follower.py  what joint_trajectory / forward position controllers do with commands
    sim_driver.py           the in-process MuJoCo arm (Push-T pusher) backend
    deploy.py               the job behind scripts/deploy.py (backends by name)
    messages/               ROS messages and their ROS 1 / ROS 2 wire formats, without ROS
    dds/                    the ROS 2 wire backend through Cyclone DDS (no rclpy), and the simulated arm as a DDS node
"""
