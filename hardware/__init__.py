"""ROS-compatible driver layer: runs a robopolicy checkpoint on a physical arm (see DESIGN.md, docs/hardware.md).

Depends on robopolicy, never the reverse.

    robot.py                the arm description (conf/robot/*.yaml) as a validated RobotConfig
    robot_parser.py         its field-by-field validation (errors name the file, the field and the fix)
    driver.py               the ArmDriver interface, ArmState, and timing a chunk for sending (schedule_chunk)
    safety.py               ChunkSafety (whole-chunk limit checks), Watchdog, EStop, SafetyFault
    kinematics.py           forward kinematics (DH) of the tool point, for the Cartesian workspace check
    estop_triggers.py       what presses the e-stop: signals and the keyboard (topics: the topic drivers)
    mapping.py              policy observation/action keys <-> joints, cameras and extra sources
    control_loop.py         the deploy loop around PolicyRunner: any fault -> hold once, send nothing more
    clock.py                wall clock on hardware, manual clock for tests and lockstep simulation
    trajectory_follower.py  what joint_trajectory / forward position controllers do with commands
    sim_driver.py           the in-process MuJoCo arm backend; sim_scenes.py its tasks (Push-T, the obstacle task)
    deploy.py               the job behind scripts/deploy.py (backends by name)
    command_log.py          the JSON-lines log of every command sent, and the latency figures read from it
    topic_driver.py         TopicArmDriver, shared by the DDS, ROS 1 and ROS 2 backends; sim_node_loop.py its sim node
    camera_frames.py        camera topics: Image / CompressedImage <-> (H, W, 3) uint8 RGB, for the topic backends
    benchmark.py            scripts/benchmark.py suite=deploy (benchmark_report.py: its aggregation and table)
    messages/               ROS messages and their ROS 1 / ROS 2 wire formats, without ROS
    dds/                    the ROS 2 wire backend through Cyclone DDS (no rclpy), and the simulated arm as a DDS node
    ros1/                   the ROS 1 backend through rospy, and the simulated arm as a ROS 1 node
    ros2/                   the ROS 2 backend through rclpy (imported only when present)
"""
