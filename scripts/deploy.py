"""Run a checkpoint on an arm: python scripts/deploy.py checkpoint=<dir> robot=pusht_sim [backend=sim max_seconds=30].

dry_run=true runs everything but sends nothing to the arm (the commands are printed); log_path=<file|null> sets the
JSON-lines command log; status_every_s=<s|null> the status line; estop.signals / estop.keyboard what presses the
e-stop besides the robot's estop_topic (kill -USR1 <pid>, or "e" + Enter on a terminal; Ctrl-C stops with hold)
(docs/hardware.md).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from hardware.deploy import deploy
from robopolicy.overrides import check_overrides


@hydra.main(config_path="../conf", config_name="deploy", version_base="1.3")
def main(cfg: DictConfig) -> None:
    result = deploy(OmegaConf.to_container(cfg, resolve=True))
    print(result.summary())
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    check_overrides("deploy")
    main()
