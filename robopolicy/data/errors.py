"""The error raised for a dataset file that cannot be trusted."""

from __future__ import annotations


class DatasetError(ValueError):
    """A robomimic-format file is missing something or holds bad values.

    The message always names the file and, where it applies, the demo and the key, and says what to do.
    """
