"""Mixed dilated convolutional networks: two dilated ConvACs (or ReLU nets) interconnected.

Cohen, Tamari & Shashua, "Boosting Dilated Convolutional Networks with Mixed
Tensor Decompositions", ICLR 2018.  Two 1D dilated networks with size-2
filters run over the same ``N`` positions, with dilations ``dilations_a`` and
``dilations_b`` (their mode trees ``ModeTree.dilated(N, dilations_t)``,
the paper's Sec. 3, Fig. 2).  At the *mixture nodes*, index sets that are
nodes of both trees (:func:`dltheory.mixed.shared_nodes`), each network's
convolution reads the pooled channels of both ("rewiring of an intermediate
convolutional layer", Fig. 3), and the two outputs are summed.  With product
pooling the network computes ``h_y(x) = <A_y, f(x_1) (x) ... (x) f(x_N)>``
with ``A_y`` the mixed decomposition of eq. (4),
:class:`~dltheory.mixed.MixedTensor` (:meth:`MixedDilatedNet.coefficient_tensor`);
with max or average pooling and ReLU activations it is the ReLU counterpart.

Per tree ``t`` in ``{a, b}`` (a-channels first at a mixture node ``nu``)::

    u^t_i  = A^t^T f(x_i)                          (leaves)
    p^t_v  = pool_{c in children_t(v)} u^t_c
    u^t_v  = W^t_v^T p^t_v,   u^t_nu = W^t_nu^T [p^a_nu ; p^b_nu]
    h      = u^a_root + u^b_root

(max / average pooling: a ReLU after every convolution but the roots').  The forward
pass runs level by level in :mod:`dltheory.nets._mixed_forward`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..mixed import MixedTensor, shared_nodes
from ..mixed.tensor import MAX_SET_ENTRIES
from ..trees import ModeTree
from ..validation import (
    check_choice,
    check_device,
    check_dtype,
    check_flag,
    check_int,
    check_seed,
    check_size,
)
from ._mixed_forward import (
    MixedPlan,
    build_plan,
    check_inputs,
    check_widths,
    dilated_tree,
    ldexp,
    node_matrices,
    run_pooled,
    run_product,
    scaled_features,
    weight_shapes,
)
from ._outputs import check_logit_scale, refuse_nan, row_normalized_logits
from .convac import MAX_PARAMETERS, POOLINGS
from .representation import Representation, _check_representation, make_representation

__all__ = ["MixedDilatedNet"]


@dataclass(frozen=True)
class _Config:
    """The checked arguments and the structure they give (no tensors)."""

    n: int
    in_dim: int
    out_dim: int
    widths: tuple[int, ...]
    dilations: tuple[tuple[int, ...], tuple[int, ...]]
    trees: tuple[ModeTree, ModeTree]
    mix: tuple[frozenset[int], ...]
    mixture_levels: tuple[int, ...]
    representation: str
    num_features: int
    representation_activation: str | None
    rep_params: int
    shared: bool
    shapes: dict[str, tuple[int, ...]]

    @property
    def count(self) -> int:
        return self.rep_params + sum(math.prod(s) for s in self.shapes.values())


def _check_count(count: int, sizes: Mapping[str, int], n: int, itemsize: int) -> None:
    """Refuse more than MAX_PARAMETERS parameters, naming the largest size argument."""
    check_size(
        count,
        max(sizes, key=sizes.__getitem__),
        limit=MAX_PARAMETERS,
        what=f"the mixed net's parameters over {n} positions",
        bytes_per_entry=itemsize,
        fix="lower width, num_features, in_dim or out_dim, or share the weights (shared=True)",
    )


def _configure(
    n: Any,
    in_dim: Any,
    width: Any,
    out_dim: Any,
    dilations_a: Any,
    dilations_b: Any,
    interconnections: Any,
    representation: Any,
    num_features: Any,
    representation_activation: Any,
    shared: Any,
    itemsize: int | None = None,
) -> _Config:
    """Check the structural arguments and derive the trees, mixture nodes and weight shapes.

    With ``itemsize`` (bytes per parameter) a net above :data:`MAX_PARAMETERS`
    is refused, the unmixed count (a lower bound) before the trees are built.
    """
    n = check_int(n, "n", minimum=2, fix="kernel-2 dilated nets need n = 2**levels positions")
    if n & (n - 1):
        raise ValueError(
            f"n: expected a power of two (size-2 filters pool 2**levels positions), got {n}"
        )
    levels = n.bit_length() - 1
    check_size(
        n * levels,
        "n",
        limit=MAX_SET_ENTRIES,
        what="the leaf sets of the two trees' nodes",
        fix="use fewer positions",
    )
    in_dim = check_int(in_dim, "in_dim", minimum=1)
    out_dim = check_int(out_dim, "out_dim", minimum=1)
    widths = check_widths(width, n)
    rep, _, m, rep_act, rep_params = _check_representation(
        representation,
        in_dim,
        num_features,
        representation_activation,
        activation_name="representation_activation",
    )
    shared = check_flag(shared, "shared")
    sizes = {
        "width": max(widths),
        "in_dim": in_dim,
        "num_features": m if num_features is not None else 0,
        "out_dim": out_dim,
    }
    if itemsize is not None:  # mixing only adds rows: the unmixed net is a lower bound
        low = rep_params + sum(
            math.prod(s) for s in weight_shapes(n, m, widths, out_dim, (), shared).values()
        )
        _check_count(low, sizes, n, itemsize)
    if dilations_a is None:
        dilations_a = [2**k for k in range(levels)]
    dil_a, tree_a = dilated_tree(n, dilations_a, "dilations_a")
    if dilations_b is None:
        dilations_b = list(dil_a)
        if levels >= 2:
            dilations_b[0], dilations_b[1] = dilations_b[1], dilations_b[0]
    dil_b, tree_b = dilated_tree(n, dilations_b, "dilations_b")
    k = check_int(interconnections, "interconnections", minimum=0)
    common = shared_nodes(tree_a, tree_b)
    available = sorted({len(s).bit_length() - 2 for s in common})
    if k > len(available):
        raise ValueError(
            f"interconnections: expected at most {len(available)}, got {k}; the schemes "
            f"{list(dil_a)} and {list(dil_b)} share nodes at {len(available)} levels "
            f"({available}) below the root"
        )
    chosen = tuple(available[:k])
    mix = tuple(s for s in common if len(s).bit_length() - 2 in chosen)
    cfg = _Config(
        n=n,
        in_dim=in_dim,
        out_dim=out_dim,
        widths=widths,
        dilations=(dil_a, dil_b),
        trees=(tree_a, tree_b),
        mix=mix,
        mixture_levels=chosen,
        representation=rep,
        num_features=m,
        representation_activation=rep_act,
        rep_params=rep_params,
        shared=shared,
        shapes=weight_shapes(n, m, widths, out_dim, mix, shared),
    )
    if itemsize is not None:
        _check_count(cfg.count, sizes, n, itemsize)
    return cfg


class MixedDilatedNet(nn.Module):
    """Two dilated networks over ``n`` positions, interconnected at their shared nodes (ICLR'18).

    Parameters
    ----------
    n : int
        Number of positions, a power of two (size-2 filters, ``log2 n`` layers).
    in_dim : int
        Size of each position's local vector.
    width : int or sequence of int
        Channels of each level (level 0 pools the positions), the same in both networks.
    out_dim : int
        Number of outputs (classes).
    dilations_a, dilations_b : sequence of int, optional
        Dilation of each layer; default ``(1, 2, 4, ..., n/2)`` (WaveNet) for
        ``a`` and the same with its first two exchanged for ``b`` (the paper's
        ``T`` and ``T̄``, whose nodes agree from the blocks of 4 up).
    interconnections : int
        Mix at every shared node of the ``k`` lowest levels that have shared
        nodes (at most the number of such levels); 0: the two networks side by side.
    pooling : {"product", "max", "average"}
        Product pooling is multilinear (a mixed ConvAC); max and average pooling put
        a ReLU after every convolution but the last (conv -> ReLU -> pool).
    representation, num_features, representation_activation
        The representation layer f (shared by both networks), as for
        :class:`~dltheory.nets.ConvAC`.
    shared : bool
        One 1x1 convolution per level and network (a convolutional net; a level's
        mixture nodes share their own wider one) instead of one per node.
    seed : int
        Seed of the initialization, in ``[0, 2**63)`` (weights ``N(0, 1/fan_in)``).
    dtype : torch.dtype
        ``torch.float32`` (training) or ``torch.float64`` (exact checks).
    logit_scale : float
        Largest training logit of a product-pooling net (see :meth:`forward`), in ``(0, 1e6]``.
    device : str or torch.device, optional
        Where the parameters live (default CPU).

    Attributes
    ----------
    mix, mixture_levels : tuple
        The mixture nodes used (frozensets, ordered as :func:`~dltheory.mixed.shared_nodes`
        lists them) and the levels they sit at; ``trees`` holds the two mode trees.

    Notes
    -----
    The weights are ``weights["a_leaf"]``, ``weights["a_<l>"]`` and ``weights["a_<l>_mix"]``
    (and ``b_...``); :meth:`coefficient_tensor` maps them to the trees' nodes.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it), before anything is
        allocated; also above :data:`~dltheory.nets.convac.MAX_PARAMETERS` parameters.

    Examples
    --------
    >>> net = MixedDilatedNet(8, in_dim=2, width=3, out_dim=2, interconnections=1)
    >>> [sorted(s) for s in net.mix], net.mixture_levels
    ([[0, 1, 2, 3], [4, 5, 6, 7]], (1,))
    >>> net(torch.randn(5, 8, 2)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        n: int,
        in_dim: int,
        width: int | Sequence[int],
        out_dim: int = 1,
        *,
        dilations_a: Sequence[int] | None = None,
        dilations_b: Sequence[int] | None = None,
        interconnections: int = 0,
        pooling: str = "product",
        representation: str = "identity",
        num_features: int | None = None,
        representation_activation: str | None = None,
        shared: bool = True,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        logit_scale: float = 10.0,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        dtype = check_dtype(dtype)
        self.pooling = check_choice(pooling, "pooling", POOLINGS)
        seed = check_seed(seed)
        self.logit_scale = check_logit_scale(logit_scale)
        dev = check_device(device)
        cfg = _configure(
            n,
            in_dim,
            width,
            out_dim,
            dilations_a,
            dilations_b,
            interconnections,
            representation,
            num_features,
            representation_activation,
            shared,
            itemsize=torch.empty((), dtype=dtype).element_size(),
        )
        self.n, self.in_dim, self.out_dim = cfg.n, cfg.in_dim, cfg.out_dim
        self.widths, self.dilations, self.trees = cfg.widths, cfg.dilations, cfg.trees
        self.mix: tuple[frozenset[int], ...] = cfg.mix
        self.mixture_levels: tuple[int, ...] = cfg.mixture_levels
        self.shared, self.num_features = cfg.shared, cfg.num_features
        self.representation = cfg.representation
        self.rep: Representation = make_representation(
            cfg.representation, cfg.in_dim, num_features, cfg.representation_activation, seed
        )
        g = torch.Generator().manual_seed(seed)
        draw = {k: torch.randn(s, generator=g) / math.sqrt(s[-2]) for k, s in cfg.shapes.items()}
        self.weights = nn.ParameterDict({k: nn.Parameter(w) for k, w in draw.items()})
        self.to(device=dev, dtype=dtype)
        self._plan = build_plan(cfg.trees, cfg.widths, cfg.out_dim, cfg.mix)
        self._plans: dict[str, MixedPlan] = {"cpu": self._plan}

    # ------------------------------------------------------------- parameters
    @staticmethod
    def count_parameters(
        n: int,
        in_dim: int,
        width: int | Sequence[int],
        out_dim: int = 1,
        *,
        dilations_a: Sequence[int] | None = None,
        dilations_b: Sequence[int] | None = None,
        interconnections: int = 0,
        representation: str = "identity",
        num_features: int | None = None,
        shared: bool = True,
    ) -> int:
        """Parameters the net with these arguments holds, computed without building it.

        Per network: the leaf convolution (``M x r_0``), per level a plain
        ``r_l x r_{l+1}`` convolution where the level has non-mixture nodes and
        a ``2 r_l x r_{l+1}`` one where it has mixture nodes (once per level
        with ``shared=True``, once per node otherwise), plus the representation's.
        """
        cfg = _configure(
            n,
            in_dim,
            width,
            out_dim,
            dilations_a,
            dilations_b,
            interconnections,
            representation,
            num_features,
            None,
            shared,
        )
        return cfg.count

    @property
    def num_parameters(self) -> int:
        """Number of trainable entries (both networks and the representation)."""
        return sum(p.numel() for p in self.parameters())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter (the convolutions' and the representation's; there are no biases)."""
        return list(self.parameters())

    # ------------------------------------------------------------------ input
    def _inputs(self, x: Any) -> torch.Tensor:
        """``x`` checked: a real, finite ``(batch, n, in_dim)`` tensor, cast to the weights'."""
        check_inputs(x, self.n, self.in_dim)
        w = self.weights["a_leaf"]
        return x.to(device=w.device, dtype=w.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``f(x_i)`` at every position: ``(batch, n, M)``."""
        return self.rep._forward(self._inputs(x))

    def _plan_for(self, device: torch.device) -> MixedPlan:
        if str(device) not in self._plans:
            self._plans[str(device)] = self._plan.to(device)
        return self._plans[str(device)]

    # ---------------------------------------------------------------- forward
    def _branches(
        self, x: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor | None]]:
        """Each network's root output ``(u, E)``: ``2**E u`` (product), ``(h_t, None)`` else."""
        loc = self._inputs(x)
        plan = self._plan_for(loc.device)
        w = dict(self.weights.items())
        if self.pooling != "product":
            f = self.rep._forward(loc).transpose(0, 1)
            ua, ub = run_pooled(plan, w, f, self.pooling, self.shared)
            return (ua, None), (ub, None)
        q, ex, zero = scaled_features(self.rep, loc)
        return run_product(plan, w, q, ex, zero, self.shared)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(u, E)`` with ``h = 2**E u`` (product pooling), ``(h, None)`` otherwise."""
        (ua, ea), (ub, eb) = self._branches(x)
        if ea is None or eb is None:
            return ua + ub, None
        e = torch.maximum(ea, eb)
        return ua * torch.exp2(ea - e) + ub * torch.exp2(eb - e), e

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The exact outputs ``h_y(x) = h^a_y(x) + h^b_y(x)``, shape ``(batch, out_dim)``.

        For product pooling ``|h|`` may exceed the dtype's range at large ``n``
        (then ``inf``); :meth:`forward` never overflows.

        Raises
        ------
        TypeError, ValueError
            For a bad ``x`` (a real, finite ``(batch, n, in_dim)`` tensor), or a
            NaN output (non-finite weights).
        """
        u, e = self._run(x)
        refuse_nan(u, "scores")
        return u if e is None else ldexp(u, e)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training logits ``(batch, out_dim)``, as :meth:`ConvAC.forward`.

        Product pooling: ``logit_scale * h_y / max_y' |h_y'|`` per row, from the
        scaled outputs (the power-of-two scale cancels), so finite for any
        ``n``, with the arg-max of ``h``; max / average pooling: ``h_y(x)``.
        Non-finite weights give NaN logits (for :func:`dltheory.train` to report).
        """
        u, e = self._run(x)
        if e is None:
            return u
        return row_normalized_logits(u, self.logit_scale)

    # --------------------------------------------------------------- analysis
    def _matrices(self) -> list[tuple[list[np.ndarray], dict[int, np.ndarray]]]:
        """Per network: the leaf matrices and ``{node id: matrix}`` (float64 copies)."""
        with torch.no_grad():
            w = {k: p.detach().to(torch.float64).cpu().numpy() for k, p in self.weights.items()}
        if not all(np.isfinite(v).all() for v in w.values()):
            raise ValueError(
                "coefficient_tensor: the network's weights have NaN or infinite entries "
                "(a diverged training?); reinitialize or retrain it"
            )
        return node_matrices(self._plan, w, self.n, self.shared)

    def coefficient_tensor(self, y: int = 0) -> MixedTensor:
        """The mixed coefficient tensor ``A_y`` (float64): ``h_y(x) = <A_y, f(x_1) (x) ... >``.

        The two trees' weights (a float64 copy) and :attr:`mix` as a
        :class:`~dltheory.mixed.MixedTensor` (the paper's eq. (4)); ``f`` is
        :meth:`features`.

        Raises
        ------
        ValueError
            For max or average pooling (not multilinear), a ``y`` out of range,
            or non-finite weights.
        """
        if self.pooling != "product":
            raise ValueError(
                f"pooling: a {self.pooling}-pooling network is not multilinear and has no "
                "coefficient tensor"
            )
        y = check_int(
            y, "y", minimum=0, maximum=self.out_dim - 1, fix=f"the net has {self.out_dim} outputs"
        )
        (la, na), (lb, nb) = self._matrices()
        for t, nodes in zip(self.trees, (na, nb), strict=True):
            nodes[t.root] = nodes[t.root][:, [y]]
        return MixedTensor(self.trees[0], self.trees[1], la, na, lb, nb, mix=self.mix)

    def extra_repr(self) -> str:
        return (
            f"n={self.n}, in_dim={self.in_dim}, M={self.num_features}, widths={self.widths}, "
            f"out_dim={self.out_dim}, dilations_a={self.dilations[0]}, "
            f"dilations_b={self.dilations[1]}, mixture_levels={self.mixture_levels}, "
            f"pooling={self.pooling!r}, representation={self.representation!r}, "
            f"shared={self.shared}"
        )
