"""The one trainer every family uses."""

from robopolicy.training.config import TrainConfig
from robopolicy.training.logger import MetricsLogger
from robopolicy.training.trainer import Trainer, TrainingDiverged, TrainResult, seed_everything

__all__ = ["MetricsLogger", "TrainConfig", "Trainer", "TrainResult", "TrainingDiverged", "seed_everything"]
