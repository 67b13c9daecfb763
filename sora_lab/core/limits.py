"""Limits on what callers send, shared by every check of the same value (one number, one place)."""

MAX_PROMPT_CHARS = 2000
"""A prompt longer than this is refused before any rule or model reads it."""

MAX_CAMEOS = 3
"""Cameos one clip may feature (by handle or @mention)."""
