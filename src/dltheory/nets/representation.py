"""Representation layers f_1..f_M: the first layer of a ConvAC.

The ConvAC computes ``h_y(x) = <A_y, f(x_1) (x) ... (x) f(x_N)>`` where each
position's local vector ``x_i`` (size ``s``) is mapped to ``M`` descriptor
values ``f(x_i)`` (Cohen, Sharir & Shashua, COLT'16, Sec. 3).  Every layer here
returns the descriptors, and their logarithm where they are positive (used by
the positive-weight log-space ConvAC).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Representation", "make_representation", "REPRESENTATIONS"]

REPRESENTATIONS = ("identity", "one-hot", "similarity", "affine")


class Representation(nn.Module):
    """Base class: maps ``(batch, N, s)`` local vectors to ``(batch, N, M)`` descriptors."""

    num_features: int
    #: Whether every descriptor is > 0 (so its log is defined).
    positive: bool = False

    def log_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``log f(x)`` for positive representations."""
        return torch.log(self(x))


class Identity(Representation):
    """``f_d(x) = x_d``: M = s."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.num_features = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class OneHot(Representation):
    """One-hot of a discrete value in ``0 .. levels-1`` (s = 1), as in the ICLR'17 experiments."""

    positive = True

    def __init__(self, in_dim: int, levels: int) -> None:
        super().__init__()
        if in_dim != 1:
            raise ValueError(
                f"in_dim: the one-hot representation needs s = 1 value per position, got {in_dim}"
            )
        if levels < 2:
            raise ValueError(f"levels: the one-hot representation needs >= 2 levels, got {levels}")
        self.num_features = levels

    def _index(self, x: torch.Tensor) -> torch.Tensor:
        idx = torch.round(x[..., 0]).long()
        if (idx != x[..., 0]).any() or (idx < 0).any() or (idx >= self.num_features).any():
            raise ValueError(
                f"x: the one-hot representation needs integer values in 0..{self.num_features - 1}"
            )
        return idx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(self._index(x), self.num_features).to(x.dtype)

    def log_forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self(x)
        return torch.where(f > 0, torch.zeros_like(f), torch.full_like(f, -math.inf))


class Similarity(Representation):
    """Learnable Gaussian templates (the SimNets similarity layer, Cohen et al., CVPR'16).

    ``f_d(x) = exp(-sum_i (x_i - z_{d,i})^2 / (2 sigma_{d,i}^2))`` with templates
    ``z_d`` and scales ``sigma_d`` learned.
    """

    positive = True

    def __init__(self, in_dim: int, num_templates: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_features = num_templates
        self.templates = nn.Parameter(torch.randn(num_templates, in_dim, generator=g))
        self.log_sigma = nn.Parameter(torch.zeros(num_templates, in_dim))

    def log_forward(self, x: torch.Tensor) -> torch.Tensor:
        diff = (x[..., None, :] - self.templates) * torch.exp(-self.log_sigma)
        return -0.5 * (diff**2).sum(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_forward(x))


class Affine(Representation):
    """A learned linear map with an optional activation: ``f(x) = act(B x + c)``."""

    def __init__(
        self, in_dim: int, num_features: int, activation: str | None, seed: int = 0
    ) -> None:
        super().__init__()
        acts = {None: nn.Identity(), "relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}
        if activation not in acts:
            names = sorted(k for k in acts if k)
            raise ValueError(f"activation: expected one of {names} or None, got {activation!r}")
        g = torch.Generator().manual_seed(seed)
        self.num_features = num_features
        self.linear = nn.Linear(in_dim, num_features)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(in_dim)
            self.linear.weight.uniform_(-bound, bound, generator=g)
            self.linear.bias.uniform_(-bound, bound, generator=g)
        self.act = acts[activation]
        self.positive = activation == "sigmoid"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(self.linear(x))
        return out


def make_representation(
    name: str,
    in_dim: int,
    num_features: int | None,
    activation: str | None = None,
    seed: int = 0,
) -> Representation:
    """Build a representation layer by name (see :data:`REPRESENTATIONS`)."""
    if name == "identity":
        if num_features not in (None, in_dim):
            raise ValueError(f"num_features: the identity representation has M = in_dim = {in_dim}")
        return Identity(in_dim)
    if name == "one-hot":
        return OneHot(in_dim, 2 if num_features is None else num_features)
    if name in ("similarity", "affine"):
        if num_features is None or num_features < 1:
            raise ValueError(f"num_features: the {name} representation needs num_features >= 1")
        if name == "similarity":
            return Similarity(in_dim, num_features, seed)
        return Affine(in_dim, num_features, activation, seed)
    raise ValueError(f"representation: expected one of {REPRESENTATIONS}, got {name!r}")
