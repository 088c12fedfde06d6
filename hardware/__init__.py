"""Hardware driver layer: runs a robopolicy checkpoint on a physical arm (see DESIGN.md)."""
