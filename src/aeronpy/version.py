"""aeronpy's version and the Aeron version it is compatible with."""

__version__ = "0.1.0"
AERON_COMPATIBLE_VERSION = "1.53.0"
COMMIT = "aeronpy-" + __version__
