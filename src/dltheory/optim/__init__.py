"""Optimization: the end-to-end (depth-preconditioned) optimizer of deep linear networks."""

from .end_to_end import MAX_DEPTH, EndToEnd, end_to_end_update, end_to_end_update_reference

__all__ = ["MAX_DEPTH", "EndToEnd", "end_to_end_update", "end_to_end_update_reference"]
