"""Sora Lab: an open, offline-first lab for AI short-video platforms."""

__version__ = "0.1.0"
