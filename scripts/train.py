"""Train a policy end to end: python scripts/train.py [policy=diffusion task=pusht training.num_steps=...]."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from robopolicy.overrides import check_overrides
from robopolicy.workflows import train


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    result, evaluation = train(OmegaConf.to_container(cfg, resolve=True), HydraConfig.get().runtime.output_dir)
    print(f"trained {result.step} steps in {result.seconds:.0f} s; checkpoint {result.last_checkpoint}")
    if evaluation is not None:
        print(evaluation.summary())


if __name__ == "__main__":
    check_overrides("train")
    main()
