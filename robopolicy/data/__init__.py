"""robomimic-format datasets: writing, validated reading, windowed sampling, scripted collection."""

from robopolicy.data.errors import DatasetError
from robopolicy.data.reader import Demo, demo_names, load_demos, read_env_args, shape_meta_from_file
from robopolicy.data.sequence_dataset import SequenceDataset
from robopolicy.data.writer import RobomimicWriter

__all__ = [
    "DatasetError",
    "Demo",
    "RobomimicWriter",
    "SequenceDataset",
    "demo_names",
    "load_demos",
    "read_env_args",
    "shape_meta_from_file",
]
