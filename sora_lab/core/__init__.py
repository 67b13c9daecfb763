"""Shared ground for every capability: errors, ids and clock, the lab home folder, settings, text embeddings."""
