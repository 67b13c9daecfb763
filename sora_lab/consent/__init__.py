"""A person's likeness used only with their current consent: cameos, permission and visibility rules, faces, rights
registries."""
