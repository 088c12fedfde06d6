"""ROS 2 over DDS without ROS 2: the arm's topics through Cyclone DDS (pip `cyclonedds`, no rclpy), and the simulated
arm as a DDS node (docs/hardware.md, "The DDS backend").

    network.py      the Cyclone DDS configuration: loopback-only by default, or the user's robot-network XML
    idl.py          the ROS 2 messages as cyclonedds IdlStruct types under their ROS 2 DDS names
    convert.py      IdlStruct objects <-> hardware.messages dataclasses
    participant.py  a domain opened with an explicit configuration, ROS 2 topic names ("rt" + topic) and QoS;
                    images written and taken as raw CDR
    driver.py       DdsArmDriver: joint states, extras and camera frames in, JointTrajectory /
                    Float64MultiArray commands out
    sim_node.py     the in-process MuJoCo arm as a DDS node (python -m hardware.dds.sim_node)

Only network.py imports without cyclonedds; the others need it (`pip install cyclonedds==11.0.1`, in the dev and
ros extras). Every participant is created with an explicit configuration: Cyclone's default would send discovery
multicast onto every network interface of the machine.
"""
