"""cityops layer."""
