"""`python -m sora_lab.cli`: the same commands as the `sora-lab` script."""

from sora_lab.cli.main import main

main()
