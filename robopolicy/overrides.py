"""Catch misspelled command-line overrides before Hydra does, and say which keys would have been valid.

Hydra already lists the options of a config group (``policy=difusion``), but for an unknown key
(``training.num_step=5``) it only says the key "is not in struct". ``check_overrides`` composes the
config the scripts would get and, for every ``a.b.c=value`` override whose key does not exist, exits
with the keys that do exist under ``a.b``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def _is_group(key: str) -> bool:
    return (CONF_DIR / key).is_dir()


def unknown_key_message(config_name: str, overrides: Sequence[str]) -> str | None:
    """A message for the first override that names a key missing from the composed config, else None."""
    plain = [o for o in overrides if "=" in o and not o.startswith(("+", "~", "hydra.", "hydra/"))]
    groups = [o for o in plain if "." not in o.split("=", 1)[0] and _is_group(o.split("=", 1)[0])]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        try:
            cfg = compose(config_name, overrides=groups)
        except Exception:  # a bad group option: Hydra's own message lists the valid ones
            return None
    for override in plain:
        if override in groups:
            continue
        key = override.split("=", 1)[0]
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if isinstance(node, DictConfig) and leaf not in node.keys():
            where = f"under '{parent}'" if parent else "at the top level"
            valid = ", ".join(sorted(str(k) for k in node.keys()))
            return (
                f"unknown config key '{key}' in override '{override}'. Valid keys {where}: {valid}. "
                f"(To add a new key on purpose, write +{override}.)"
            )
        if node is None and parent:
            return f"unknown config key '{key}' in override '{override}': '{parent}' does not exist in {config_name}.yaml"
    return None


def check_overrides(config_name: str, argv: Sequence[str] | None = None) -> None:
    """Exit with a clear message if a command-line override names an unknown key."""
    args = list(sys.argv[1:] if argv is None else argv)
    message = unknown_key_message(config_name, [a for a in args if not a.startswith("-")])
    if message:
        sys.exit(f"error: {message}")
