"""dynamokv package (filled in by its issue)."""
