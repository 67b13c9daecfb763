"""Videos: checked requests, the job queue and daily limit, one generation end to end, rows, and the operations."""
