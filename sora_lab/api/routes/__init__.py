"""The v1 HTTP resources, one FastAPI router per area, each route named by its operation (`videos.get`)."""
