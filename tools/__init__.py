"""Command-line entry points (thin wrappers over zoo, training and edge)."""
