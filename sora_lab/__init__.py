"""Sora Lab: an open, offline-first lab for AI short-video platforms."""

__version__ = "0.1.0"

from sora_lab.lab import Lab  # noqa: E402  (the facade is the package's front door)

__all__ = ["Lab", "__version__"]
