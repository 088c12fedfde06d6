"""Evaluate a checkpoint in simulation: python scripts/eval.py checkpoint=<dir> num_episodes=50 [noise_seed=[0,1,2]]."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from robopolicy.overrides import check_overrides
from robopolicy.workflows import chunk_fit_checkpoint, evaluate_checkpoint, evaluate_checkpoint_over_noise_seeds


@hydra.main(config_path="../conf", config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    c = OmegaConf.to_container(cfg, resolve=True)
    fit = c["chunk_fit"]
    if fit["windows"] > 0:
        print(chunk_fit_checkpoint(c["checkpoint"], windows=fit["windows"], samples=fit["samples"],
                                   filter_key=fit["filter_key"], dataset=fit["dataset"], output_dir=c["output_dir"],
                                   weights=c["weights"], inference=c["inference"],
                                   action_horizon=c["action_horizon"]).summary())
        if c["num_episodes"] == 0:
            return
    common = dict(num_episodes=c["num_episodes"], num_envs=c["num_envs"], video_episodes=c["video_episodes"],
                  output_dir=c["output_dir"], weights=c["weights"], inference=c["inference"], seeds=c["seeds"],
                  action_horizon=c["action_horizon"])
    if isinstance(c["noise_seed"], list):
        print(evaluate_checkpoint_over_noise_seeds(c["checkpoint"], c["noise_seed"], **common).summary())
    else:
        print(evaluate_checkpoint(c["checkpoint"], noise_seed=c["noise_seed"], **common).summary())


if __name__ == "__main__":
    check_overrides("eval")
    main()
