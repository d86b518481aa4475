"""Command-line shims kept for users of the earlier system."""
