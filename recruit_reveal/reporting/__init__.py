"""What the notebooks show: tables and figures built from library results."""
