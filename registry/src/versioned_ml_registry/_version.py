"""The registry's own version: recorded in every tag it writes."""

__version__ = "0.2.0"
