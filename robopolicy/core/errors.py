"""Errors raised on bad checkpoints, and the pickle guard every checkpoint read goes through."""

from __future__ import annotations

from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint directory or file is missing, malformed, or carries a payload we refuse to load."""


# First bytes of what torch.save / pickle.dump write: a zip archive (torch >= 1.6) or a pickle protocol opcode.
_PICKLE_SIGNATURES = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def refuse_pickle(path: Path) -> None:
    """Raise CheckpointError if ``path`` looks like a pickle or torch.save file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if any(head.startswith(sig) for sig in _PICKLE_SIGNATURES):
        raise CheckpointError(
            f"{path}: this file holds a pickle / torch.save payload. robopolicy never unpickles checkpoints "
            "(unpickling runs arbitrary code); re-export the weights with safetensors.torch.save_file."
        )
