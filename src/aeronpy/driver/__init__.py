"""The media driver."""
