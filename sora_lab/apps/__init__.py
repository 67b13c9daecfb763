"""What people look at: the feed widget (Voilà) with its static files, and the `make demo` runner."""
