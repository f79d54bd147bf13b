"""Tools: stat, errors."""
