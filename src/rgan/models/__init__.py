"""Recurrent generator and discriminator."""

from rgan.models.recurrent import Discriminator, Generator, build_models

__all__ = ["Discriminator", "Generator", "build_models"]
