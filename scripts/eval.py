"""Evaluate a checkpoint in simulation: python scripts/eval.py checkpoint=<dir> num_episodes=50."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from robopolicy.overrides import check_overrides
from robopolicy.workflows import evaluate_checkpoint


@hydra.main(config_path="../conf", config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    c = OmegaConf.to_container(cfg, resolve=True)
    result = evaluate_checkpoint(c["checkpoint"], num_episodes=c["num_episodes"], num_envs=c["num_envs"],
                                 video_episodes=c["video_episodes"], output_dir=c["output_dir"], weights=c["weights"],
                                 inference=c["inference"])
    print(result.summary())


if __name__ == "__main__":
    check_overrides("eval")
    main()
