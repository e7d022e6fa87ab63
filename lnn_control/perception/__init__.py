"""Encoders that turn sensor values into features for the liquid core (plain torch)."""

from lnn_control.perception.image import ImageEncoder
from lnn_control.perception.vector import VectorEncoder

__all__ = ["ImageEncoder", "VectorEncoder"]
