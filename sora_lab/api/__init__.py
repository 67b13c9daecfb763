"""The HTTP server that owns a lab file, and the one access table both it and the embedded lab enforce."""
