"""Register ``pooling-geometry`` as a plugin claim until its first full verdict is recorded.

``DLTHEORY_EXTRA_CLAIMS=dltheory.claims._pooling_geometry_lab dltheory run pooling-geometry``
"""

from __future__ import annotations

from ._pooling_geometry import PoolingGeometry
from .base import register

__all__ = ["PoolingGeometry"]

register(PoolingGeometry)
