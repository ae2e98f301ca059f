"""LampCare: after-sales service backend for eye-protection classroom lamps."""

__version__ = "0.1.0"
