"""ROS-compatible driver layer: runs a robopolicy checkpoint on a physical arm (see DESIGN.md).

Depends on robopolicy, never the reverse.
"""
