"""The `sora-lab` command line: one module per command group over shared options and helpers."""
