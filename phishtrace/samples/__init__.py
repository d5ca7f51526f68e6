"""Seeded sample data: consistent multi-hop files in real formats, with the planted truth."""

from phishtrace.samples.generate import generate

__all__ = ["generate"]
