"""The prompt check every generation and publish passes: one orchestrator over small rule functions."""
