"""Frame and control-protocol codecs."""
