"""A person's likeness used only with their current consent: cameos, permission rules, faces, rights registries."""
