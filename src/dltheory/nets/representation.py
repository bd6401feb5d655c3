"""Representation layers f_1..f_M: the first layer of a ConvAC.

The ConvAC computes ``h_y(x) = <A_y, f(x_1) (x) ... (x) f(x_N)>`` where each
position's local vector ``x_i`` (size ``s``) is mapped to ``M`` descriptor
values ``f(x_i)`` (Cohen, Sharir & Shashua, COLT'16, Sec. 3).  Every layer here
returns the descriptors, and their logarithm where they are positive (used by
the positive-weight log-space ConvAC).

Every layer checks its input once, in :meth:`Representation.forward` and
:meth:`Representation.log_forward` (a real, finite ``(batch, N, s)`` tensor);
the computation itself lives in ``_forward`` / ``_log_forward``, which the
ConvAC calls directly on inputs it has already checked.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..validation import (
    MAX_ENTRIES,
    check_array,
    check_choice,
    check_int,
    check_seed,
    check_size,
    describe,
)

__all__ = ["ACTIVATIONS", "REPRESENTATIONS", "Representation", "make_representation"]

#: Names accepted by :func:`make_representation` (and ``ConvAC(representation=...)``).
REPRESENTATIONS: tuple[str, ...] = ("identity", "one-hot", "similarity", "affine")
#: Activations of the ``"affine"`` representation besides ``None``.
ACTIVATIONS: tuple[str, ...] = ("relu", "sigmoid", "tanh")


class Representation(nn.Module):
    """Base class: maps ``(batch, N, s)`` local vectors to ``(batch, N, M)`` descriptors.

    Parameters
    ----------
    in_dim : int
        Size ``s`` of each local vector, >= 1.
    num_features : int
        Number ``M`` of descriptors, >= 1.

    Notes
    -----
    Subclasses implement ``_forward`` (and ``_log_forward`` where a cheaper or
    more accurate logarithm exists); :meth:`forward` and :meth:`log_forward`
    check the input and call them.
    """

    in_dim: int
    num_features: int
    #: Whether every descriptor is > 0 (so its log is defined).
    positive: bool = False

    def __init__(self, in_dim: int, num_features: int) -> None:
        super().__init__()
        self.in_dim = check_int(in_dim, "in_dim", minimum=1)
        self.num_features = check_int(num_features, "num_features", minimum=1)

    # ----------------------------------------------------------------- checks
    def check_input(self, x: Any) -> torch.Tensor:
        """``x`` as a floating tensor, if it is a real, finite, non-empty ``(batch, N, s)`` tensor.

        Integer tensors are cast to the dtype of the layer's parameters (the
        default dtype for layers without any).

        Raises
        ------
        TypeError
            For a non-tensor, or a complex, boolean or object tensor.
        ValueError
            For the wrong rank or size ``s``, an empty batch, or NaN/inf entries.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"x: expected a torch tensor (batch, N, {self.in_dim}), got {describe(x)}"
            )
        check_array(x, "x", ndim=3)
        if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] != self.in_dim:
            raise ValueError(
                f"x: expected a non-empty tensor of shape (batch, N, {self.in_dim}), got "
                f"{tuple(x.shape)}"
            )
        if not x.is_floating_point():
            p = next(self.parameters(), None)
            x = x.to(p.dtype if p is not None else torch.get_default_dtype())
        return x

    # -------------------------------------------------------------- interface
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The descriptors ``f(x)``, ``(batch, N, M)``."""
        return self._forward(self.check_input(x))

    def log_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``log f(x)``, for positive representations (:attr:`positive`).

        Raises
        ------
        ValueError
            If the representation can be zero or negative (its log would be NaN).
        """
        if not self.positive:
            raise ValueError(
                f"log_forward: the {type(self).__name__} representation is not positive, so "
                "its descriptors have no logarithm; use forward"
            )
        return self._log_forward(self.check_input(x))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            f"{type(self).__name__}: a Representation subclass must implement _forward"
        )

    def _log_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self._forward(x))

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, num_features={self.num_features}"


class Identity(Representation):
    """``f_d(x) = x_d``: M = s."""

    def __init__(self, in_dim: int) -> None:
        super().__init__(in_dim, in_dim)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class OneHot(Representation):
    """One-hot of a discrete value in ``0 .. levels-1`` (s = 1), as in the ICLR'17 experiments."""

    positive = True

    def __init__(self, in_dim: int, num_features: int) -> None:
        super().__init__(in_dim, num_features)
        if self.in_dim != 1:
            raise ValueError(
                f"in_dim: the one-hot representation needs s = 1 value per position, got {in_dim}"
            )
        if self.num_features < 2:
            raise ValueError(
                f"num_features: the one-hot representation needs >= 2 levels, got {num_features}"
            )

    def _index(self, x: torch.Tensor) -> torch.Tensor:
        idx = torch.round(x[..., 0]).long()
        if (idx != x[..., 0]).any() or (idx < 0).any() or (idx >= self.num_features).any():
            raise ValueError(
                f"x: the one-hot representation needs integer values in 0..{self.num_features - 1}"
            )
        return idx

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(self._index(x), self.num_features).to(x.dtype)

    def _log_forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self._forward(x)
        return torch.where(f > 0, torch.zeros_like(f), torch.full_like(f, -math.inf))


class Similarity(Representation):
    """Learnable Gaussian templates (the SimNets similarity layer, Cohen et al., CVPR'16).

    ``f_d(x) = exp(-sum_i (x_i - z_{d,i})^2 / (2 sigma_{d,i}^2))`` with templates
    ``z_d`` and scales ``sigma_d`` learned.
    """

    positive = True

    def __init__(self, in_dim: int, num_templates: int, seed: int = 0) -> None:
        super().__init__(in_dim, num_templates)
        g = torch.Generator().manual_seed(check_seed(seed))
        self.templates = nn.Parameter(torch.randn(self.num_features, self.in_dim, generator=g))
        self.log_sigma = nn.Parameter(torch.zeros(self.num_features, self.in_dim))

    def _log_forward(self, x: torch.Tensor) -> torch.Tensor:
        diff = (x[..., None, :] - self.templates) * torch.exp(-self.log_sigma)
        return -0.5 * (diff**2).sum(-1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self._log_forward(x))


class Affine(Representation):
    """A learned linear map with an optional activation: ``f(x) = act(B x + c)``."""

    def __init__(
        self, in_dim: int, num_features: int, activation: str | None, seed: int = 0
    ) -> None:
        super().__init__(in_dim, num_features)
        acts = {None: nn.Identity(), "relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}
        if activation is not None:
            check_choice(activation, "activation", ACTIVATIONS)
        g = torch.Generator().manual_seed(check_seed(seed))
        self.linear = nn.Linear(self.in_dim, self.num_features)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(self.in_dim)
            self.linear.weight.uniform_(-bound, bound, generator=g)
            self.linear.bias.uniform_(-bound, bound, generator=g)
        self.act = acts[activation]
        self.positive = activation == "sigmoid"

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(self.linear(x))
        return out


def _check_representation(
    name: Any,
    in_dim: Any,
    num_features: Any,
    activation: Any = None,
    *,
    activation_name: str = "activation",
) -> tuple[str, int, int, str | None, int]:
    """Check a representation's arguments before anything is allocated.

    Returns ``(name, in_dim, M, activation, parameter count)``; the messages
    name ``representation``, ``in_dim``, ``num_features`` and
    ``activation_name`` (``ConvAC`` passes ``"representation_activation"``).
    """
    name = check_choice(name, "representation", REPRESENTATIONS)
    s = check_int(in_dim, "in_dim", minimum=1)
    m = None if num_features is None else check_int(num_features, "num_features", minimum=1)
    if activation is not None:
        check_choice(activation, activation_name, ACTIVATIONS)
        if name != "affine":
            raise ValueError(
                f"{activation_name}: only the 'affine' representation takes an activation, "
                f"got {activation!r} for {name!r}; pass None"
            )
    if name == "identity":
        if m not in (None, s):
            raise ValueError(
                f"num_features: expected None or in_dim = {s} (the identity representation "
                f"has M = in_dim), got {m}"
            )
        return name, s, s, None, 0
    if name == "one-hot":
        if s != 1:
            raise ValueError(
                f"in_dim: the one-hot representation needs s = 1 value per position, got {s}"
            )
        m = 2 if m is None else m
        if m < 2:
            raise ValueError(f"num_features: the one-hot representation needs >= 2 levels, got {m}")
        return name, s, m, None, 0
    if m is None:
        raise ValueError(
            f"num_features: expected an integer >= 1 (the {name} representation needs M), got None"
        )
    params = 2 * m * s if name == "similarity" else m * s + m
    return name, s, m, activation, params


def make_representation(
    name: str,
    in_dim: int,
    num_features: int | None,
    activation: str | None = None,
    seed: int = 0,
) -> Representation:
    """Build a representation layer by name.

    Parameters
    ----------
    name : {"identity", "one-hot", "similarity", "affine"}
        See :data:`REPRESENTATIONS`; messages call it ``representation``.
    in_dim : int
        Size ``s`` of each local vector (``1`` for ``"one-hot"``).
    num_features : int or None
        Number ``M`` of descriptors: ``None`` or ``in_dim`` for ``"identity"``,
        the number of levels for ``"one-hot"`` (default 2), required for the others.
    activation : {None, "relu", "sigmoid", "tanh"}
        Activation of the ``"affine"`` representation (the others take none).
    seed : int
        Seed of the initialization, in ``[0, 2**63)``.

    Returns
    -------
    Representation

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it), before anything is allocated;
        also when the layer would hold more than ``2**28`` parameters.
    """
    name, s, m, act, params = _check_representation(name, in_dim, num_features, activation)
    seed = check_seed(seed)
    check_size(
        params,
        "in_dim" if s > m else "num_features",
        limit=MAX_ENTRIES,
        what=f"the {name} representation's parameters",
        fix="lower num_features or in_dim",
    )
    if name == "identity":
        return Identity(s)
    if name == "one-hot":
        return OneHot(s, m)
    if name == "similarity":
        return Similarity(s, m, seed)
    return Affine(s, m, act, seed)
