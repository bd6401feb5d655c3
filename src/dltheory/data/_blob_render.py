"""Rendering the blobs of Cohen & Shashua's closedness and symmetry tasks (ICLR 2017, Sec. 6).

The image recipe of :mod:`dltheory.data.blobs` (steps 1-6 there), vectorized over
a chunk of attempts: an ellipse, warped by a sine, rotated (scipy's cubic
spline, one image at a time), zoomed into its square, pixels dropped
(symmetrically or not) and thresholded.  Every draw of an attempt comes from
its own row of ``_UNIFORMS`` uniform numbers.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["BLOB_SIZE"]

#: Side of a blob image (the paper's 32x32).
BLOB_SIZE = 32
_N = BLOB_SIZE
_CENTRE = (_N - 1) / 2  # 15.5, the ellipse's and the rotation's centre
_MIN_LOG2_HEIGHT = 3.5  # log2 of the smallest ellipse height
_MAX_AMPLITUDE = 4.0  # of the warping sine, in pixels
_MAX_FREQUENCY = 3 * (2 * np.pi / _N)  # of the warping sine, radians per column
_DROP_MIN, _DROP_MAX = 0.1, 0.33  # range of the pixel-dropping probability
_THRESHOLD = 0.1  # binarization: a pixel is on when its value exceeds this

#: Uniform numbers one attempt uses: 9 parameters, then a 32x32 grid for the drop mask.
_PARAMS = 9
_UNIFORMS = _PARAMS + _N * _N


@functools.cache
def _zoom_matrix() -> np.ndarray[Any, Any]:
    """The (16, 32) matrix of ``scipy.ndimage.zoom(v, 0.5)`` on vectors of length 32.

    Zooming is separable (a tensor-product spline), so ``zoom(R, 0.5)`` is
    ``A @ R @ A.T``; the matrix is built by zooming the unit vectors.
    """
    from scipy import ndimage

    eye = np.eye(_N)
    return np.stack([ndimage.zoom(eye[j], 0.5) for j in range(_N)], axis=1)


def _rotate(images: np.ndarray[Any, Any], angles: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``scipy.ndimage.rotate(image, angle, reshape=False)`` (cubic spline) of each image.

    The spline prefilter runs once over the stack (along the two image axes, so
    images do not mix); the resampling is scipy's own ``affine_transform`` with
    the matrix and offset ``rotate`` computes.
    """
    from scipy import ndimage, special

    coeffs = ndimage.spline_filter1d(images, 3, axis=1, mode="constant", output=np.float64)
    coeffs = ndimage.spline_filter1d(coeffs, 3, axis=2, mode="constant", output=np.float64)
    out = np.empty_like(coeffs)
    centre = np.full(2, _CENTRE)
    for i, angle in enumerate(angles):
        c, s = special.cosdg(angle), special.sindg(angle)
        matrix = np.array([[c, s], [-s, c]])
        ndimage.affine_transform(
            coeffs[i],
            matrix,
            centre - matrix @ centre,
            output=out[i],
            order=3,
            mode="constant",
            cval=0.0,
            prefilter=False,
        )
    return out


def _render(u: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Images ``(m, 32, 32)`` bool and their squares ``(m, 3)`` from ``(m, _UNIFORMS)`` uniforms.

    Columns of ``u``: 0 ellipse height, 1 sine amplitude, 2 sine frequency,
    3 angle, 4 square side, 5 and 6 square row and column, 7 drop probability,
    8 symmetric drop mask; then the 32x32 grid the drop mask thresholds.
    """
    m = len(u)
    rows = np.arange(_N)
    # 1. ellipse of full width and height 2 b
    height = np.floor(2.0 ** (_MIN_LOG2_HEIGHT + (5 - _MIN_LOG2_HEIGHT) * u[:, 0]) / 2)
    x = ((rows[None, None, :] - _CENTRE) / (_N / 2)) ** 2
    y = ((rows[None, :, None] - _CENTRE) / height[:, None, None]) ** 2
    ellipse = (x + y < 1).astype(np.float64)
    # 2. roll column j down by trunc(a sin(w j))
    shift = np.trunc(
        (_MAX_AMPLITUDE * u[:, 1, None]) * np.sin((_MAX_FREQUENCY * u[:, 2, None]) * rows)
    ).astype(np.int64)
    source = (rows[None, :, None] - shift[:, None, :]) % _N
    warped = np.take_along_axis(ellipse, source, axis=1)
    # 3. rotate
    rotated = _rotate(warped, 180.0 * u[:, 3])
    # 4. zoom to the square and place it
    side = np.where(u[:, 4] < 0.5, _N // 2, _N)
    small = side < _N
    top = np.where(small, (_N // 2) * np.floor(2 * u[:, 5]), 0).astype(np.int64)
    left = np.where(small, (_N // 2) * np.floor(2 * u[:, 6]), 0).astype(np.int64)
    # 5. drop mask (True: dropped); the symmetric one mirrors its left half
    p = (_DROP_MIN + (_DROP_MAX - _DROP_MIN) * u[:, 7])[:, None, None]
    symmetric = u[:, 8] < 0.5
    grid = u[:, _PARAMS:].reshape(m, _N, _N)
    images = np.zeros((m, _N, _N), dtype=bool)
    for s, members in ((_N, ~small), (_N // 2, small)):
        idx = np.flatnonzero(members)
        if idx.size == 0:
            continue
        values = rotated[idx]
        if s < _N:
            a = _zoom_matrix()
            values = a @ values @ a.T
        half = grid[idx, :s, : s // 2] < p[idx]
        mask = np.where(
            symmetric[idx, None, None],
            np.concatenate([half, half[:, :, ::-1]], axis=2),
            grid[idx, :s, :s] < p[idx],
        )
        # 6. threshold (a dropped pixel is 0, below the threshold)
        on = (values > _THRESHOLD) & ~mask
        r = top[idx, None, None] + np.arange(s)[None, :, None]
        c = left[idx, None, None] + np.arange(s)[None, None, :]
        images[idx[:, None, None], r, c] = on
    squares = np.stack([top, left, side.astype(np.int64)], axis=1)
    return images, squares
