"""Collect scripted-expert demonstrations: python scripts/collect.py task=pusht num_episodes=200."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from robopolicy.overrides import check_overrides
from robopolicy.workflows import collect


@hydra.main(config_path="../conf", config_name="collect", version_base="1.3")
def main(cfg: DictConfig) -> None:
    c = OmegaConf.to_container(cfg, resolve=True)
    report = collect(c["task"], output=c["output"], num_episodes=c["num_episodes"], image_obs=c["image_obs"],
                     workers=c["workers"], seed_start=c["seed_start"], video=c["video"], video_episodes=c["video_episodes"])
    print(report.summary())


if __name__ == "__main__":
    check_overrides("collect")
    main()
