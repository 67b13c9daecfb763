"""The operator's tasks: preparing a lab home, settings, table counts and the demo world."""
