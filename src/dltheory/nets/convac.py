"""Convolutional arithmetic circuits (ConvACs) and their ReLU / max-pool cousins.

A ConvAC over a :class:`~dltheory.trees.ModeTree` is a representation layer
followed, at every tree level, by a 1x1 convolution and a pooling over the
tree's windows (Cohen, Sharir & Shashua, COLT'16).  With product pooling it
computes ``h_y(x) = <A_y, f(x_1) (x) ... (x) f(x_N)>`` where ``A_y`` is the
:class:`~dltheory.tensors.TreeTensor` over the same tree with the same weights
(:meth:`ConvAC.coefficient_tensor`).  With ``pooling="max"`` or ``"average"``
and a ReLU activation it is the generalized tensor decomposition of Cohen &
Shashua (ICML'16).

Every network runs position-major, ``(positions, batch, channels)``, with the
positions in a block order that turns each uniform pooling into a reduction
over contiguous blocks (:mod:`dltheory.nets.blockwise`; with one-hot inputs the
first level is computed once per input pattern).  Product pooling runs in
linear space with one power-of-two scale per position
(:mod:`dltheory.nets.scaled`): each position's channel vector is ``2**E q``, a
1x1 convolution is one matrix product, pooling multiplies the children's
vectors and adds their exponents, so N = 1024 positions neither overflow nor
underflow and the error stays at rounding level.  The former log-space route
(every channel a sign and a log-magnitude, each convolution a signed
log-sum-exp, :mod:`dltheory.nets.logconv`) is kept as
:meth:`ConvAC._run_log_space`, the independent reference of the tests.  With
``positive=True`` the weights are ``exp`` of the parameters and every channel
is positive: the parameterization of the original ConvAC / SimNet experiments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..tensors import TreeTensor
from ..trees import ModeTree
from ..validation import (
    MAX_ENTRIES,
    check_array,
    check_choice,
    check_device,
    check_dtype,
    check_flag,
    check_int,
    check_ints,
    check_seed,
    check_size,
    describe,
)
from . import blockwise
from ._convac_plan import plan_groups
from ._outputs import MAX_LOGIT_SCALE, check_logit_scale, refuse_nan, row_normalized_logits
from .blockwise import BlockPlan, plan_blocks
from .logconv import TINY, run_log_space
from .representation import OneHot, Representation, _check_representation, make_representation
from .scaled import LN2

__all__ = ["CONVAC_INITS", "MAX_LOGIT_SCALE", "MAX_PARAMETERS", "POOLINGS", "ConvAC"]

#: Pooling operations accepted by :class:`ConvAC`.
POOLINGS: tuple[str, ...] = ("product", "max", "average")
#: Weight initializations accepted by :class:`ConvAC` (``init``).
CONVAC_INITS: tuple[str, ...] = ("default", "xavier")
#: Most parameters a :class:`ConvAC` may hold (estimated before anything is allocated).
MAX_PARAMETERS = MAX_ENTRIES


class ConvAC(nn.Module):
    """A ConvAC (or generalized ConvNet) over any mode tree, as a trainable module.

    Parameters
    ----------
    tree : ModeTree
        Pooling geometry; its leaves are the input positions.
    in_dim : int
        Size s of each position's local vector (channels, or ``C * k * k`` with patches).
    ranks : int or sequence of int
        Width of each tree level (level 0 pools the positions), as in
        :meth:`TreeTensor.random`.
    out_dim : int
        Number of outputs (classes).
    representation : {"identity", "one-hot", "similarity", "affine"}
        The representation layer; ``num_features`` sets M where it is free
        (``one-hot``: number of levels, default 2).
    pooling : {"product", "max", "average"}
    activation : {"relu", None}
        Point-wise activation after each convolution but the last; product
        pooling is linear (``None``), max/average pooling default to ``"relu"``.
    shared : bool
        Share each level's 1x1 convolution across positions (convolutional)
        instead of one per position (locally connected).
    positive : bool
        Product pooling with weights ``exp(theta)`` (needs a positive
        representation: ``"one-hot"``, ``"similarity"``, or ``"affine"`` with a sigmoid).
    patch : int, optional
        For image inputs: use the ``patch x patch`` neighbourhood (zero padded)
        of each pixel as its local vector; ``in_dim`` is then ``C * patch**2``.
    seed : int
        Seed of the initialization, in ``[0, 2**63)``.
    dtype : torch.dtype
        Parameter dtype: ``torch.float32`` (training) or ``torch.float64`` (exact checks).
    logit_scale : float
        Largest training logit of a signed product-pooling net (see :meth:`forward`),
        in ``(0, 1e6]``.
    bias : bool
        A trainable bias per output channel of every hidden 1x1 convolution (each
        one followed by the activation; not the output convolution), initialized
        to zero; per position when ``shared=False``.  Max and average pooling only:
        a bias would break the multilinearity of product pooling (and its
        coefficient tensor), so it is refused there.  Optimizers can tell the
        biases apart by name (``"biases.<i>"``) or through :meth:`bias_parameters`.
    init : {"default", "xavier"}
        ``"default"``: Gaussian weights of variance ``1/fan_in`` (for
        ``positive=True``, ``exp`` of ``N(-log fan_in, 0.01)``); ``"xavier"``:
        Glorot-uniform, ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` for
        each 1x1 convolution's ``(in, out)`` widths (refused with ``positive=True``,
        whose parameters are log-weights).
    device : str or torch.device, optional
        Where the parameters live (default CPU); checked against what this torch can use.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it), before anything is
        allocated; also when the network would hold more than
        :data:`MAX_PARAMETERS` parameters (estimated from the tree and widths).

    Examples
    --------
    >>> import dltheory as dt
    >>> net = dt.ConvAC(dt.ModeTree.balanced(8), in_dim=3, ranks=4, out_dim=2)
    >>> net.scores(torch.randn(5, 8, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        tree: ModeTree,
        in_dim: int,
        ranks: int | Sequence[int],
        out_dim: int = 1,
        *,
        representation: str = "identity",
        num_features: int | None = None,
        representation_activation: str | None = None,
        pooling: Literal["product", "max", "average"] = "product",
        activation: str | None = "default",
        shared: bool = False,
        positive: bool = False,
        patch: int | None = None,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        logit_scale: float = 10.0,
        bias: bool = False,
        init: str = "default",
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(tree, ModeTree):
            raise TypeError(f"tree: expected a ModeTree, got {describe(tree)}")
        in_dim = check_int(in_dim, "in_dim", minimum=1)
        out_dim = check_int(out_dim, "out_dim", minimum=1)
        pooling = check_choice(pooling, "pooling", POOLINGS)  # type: ignore[assignment]
        rep_name, _, m, rep_act, rep_params = _check_representation(
            representation,
            in_dim,
            num_features,
            representation_activation,
            activation_name="representation_activation",
        )
        if activation is not None:
            check_choice(activation, "activation", ("default", "relu"))
        if activation == "default":
            activation = None if pooling == "product" else "relu"
        if pooling == "product" and activation is not None:
            raise ValueError("activation: product pooling is multilinear; use activation=None")
        shared = check_flag(shared, "shared")
        positive = check_flag(positive, "positive")
        if positive and pooling != "product":
            raise ValueError(
                "positive: the positive log-space parameterization needs pooling='product'"
            )
        rep_positive = rep_name in ("one-hot", "similarity") or rep_act == "sigmoid"
        if positive and not rep_positive:
            raise ValueError(
                "positive: positive=True needs a positive representation "
                "('one-hot', 'similarity', or 'affine' with representation_activation='sigmoid')"
            )
        if patch is not None:
            patch = check_int(patch, "patch", minimum=1)
            if patch % 2 == 0:
                raise ValueError(
                    f"patch: expected an odd integer >= 1 (a centred patch x patch window), "
                    f"got {patch}"
                )
            if tree.shape is None:
                raise ValueError(
                    f"patch: patches need a grid tree (image inputs), got a {tree.kind} tree; "
                    "pass patch=None"
                )
            if in_dim % (patch * patch):
                raise ValueError(
                    f"patch: expected in_dim = C * patch**2, got in_dim={in_dim} and "
                    f"patch={patch}; pass in_dim={patch * patch} * channels"
                )
        bias = check_flag(bias, "bias")
        if bias and pooling == "product":
            raise ValueError(
                "bias: product pooling is multilinear (h is a multilinear form with a "
                "coefficient tensor) and a bias would break it; pass bias=False, or use "
                "pooling='max' or 'average'"
            )
        init = check_choice(init, "init", CONVAC_INITS)
        if init == "xavier" and positive:
            raise ValueError(
                "init: positive=True trains log-weights (weights exp(theta)), which the "
                "Xavier initialization does not describe; pass init='default'"
            )
        seed = check_seed(seed)
        dtype = check_dtype(dtype)
        self.logit_scale = check_logit_scale(logit_scale)
        dev = check_device(device)
        if isinstance(ranks, Mapping):
            raise ValueError("ranks: a ConvAC needs one width per level (an int or a sequence)")
        per_level = (isinstance(ranks, np.ndarray) and ranks.ndim > 0) or (
            isinstance(ranks, Sequence) and not isinstance(ranks, (str, bytes))
        )
        if per_level:
            ranks = check_ints(
                ranks,
                "ranks",
                minimum=1,
                length=tree.depth,
                fix=f"one width >= 1 per level; the tree has {tree.depth} levels",
            )
        else:
            ranks = check_int(ranks, "ranks", minimum=1, fix="a width >= 1, or one per level")
        self.tree = tree
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.pooling = pooling
        self.activation = activation
        self.shared = shared
        self.positive = positive
        self.patch = patch
        self.bias = bias
        self.init = init
        self.widths = tree.resolve_ranks(ranks)
        self.num_features = m
        self.representation = rep_name
        self._plan()
        count = rep_params + self._weight_count()
        sizes = {
            "ranks": max(self.widths.values(), default=0),
            "in_dim": in_dim,
            "num_features": m if num_features is not None else 0,
            "out_dim": out_dim,
        }
        check_size(
            count,
            max(sizes, key=sizes.__getitem__),
            limit=MAX_PARAMETERS,
            what=f"the ConvAC's parameters over {tree.num_leaves} positions",
            bytes_per_entry=torch.empty((), dtype=dtype).element_size(),
            fix="lower ranks, num_features, in_dim or out_dim, or share the weights (shared=True)",
        )
        self.rep: Representation = make_representation(
            rep_name, in_dim, num_features, rep_act, seed
        )
        self._build(seed)
        self.to(device=dev, dtype=dtype)
        self._blocks: BlockPlan = plan_blocks(
            [tuple(tree.children(v)) for v in tree.nodes],
            [grp.nodes for grp in self._groups],
            self._root_group,
            self._leaf_groups,
            [(lv.feeders, lv.members) for lv in self._levels],
            m if shared and isinstance(self.rep, OneHot) else None,
        )

    # ------------------------------------------------------------- structure
    def _plan(self) -> None:
        """Group nodes into convolutions and plan each level's pooling (:mod:`._convac_plan`)."""
        plan = plan_groups(self.tree, self.widths, self.num_features, self.out_dim)
        self._groups = plan.groups
        self._root_group = plan.root_group
        self._leaf_groups = plan.leaf_groups
        self._leaf_perm = plan.leaf_perm
        self._levels = plan.levels

    def _weight_count(self) -> int:
        """Entries of the weights and biases :meth:`_build` will allocate (exact integer)."""
        return sum(
            (1 if self.shared else len(grp.nodes))
            * (grp.in_width + (1 if self.bias and grp.target_level >= 0 else 0))
            * grp.out_width
            for grp in self._groups
        )

    def _build(self, seed: int) -> None:
        """Draw every group's weights (float32, then cast by the caller)."""
        g = torch.Generator().manual_seed(seed)
        self.weights = nn.ParameterList()
        for grp in self._groups:
            if self.shared:
                shape: tuple[int, ...] = (grp.in_width, grp.out_width)
            else:
                shape = (len(grp.nodes), grp.in_width, grp.out_width)
            if self.positive:
                # weights exp(theta) ~ 1/fan_in: each convolution starts near an average
                w = torch.randn(shape, generator=g) * 0.1 - math.log(grp.in_width)
            elif self.init == "xavier":
                bound = math.sqrt(6.0 / (grp.in_width + grp.out_width))
                w = (torch.rand(shape, generator=g) * 2.0 - 1.0) * bound
            else:
                w = torch.randn(shape, generator=g) / math.sqrt(grp.in_width)
            self.weights.append(nn.Parameter(w))
        #: group index -> its entry of ``biases`` (hidden convolutions only, ``bias=True``)
        self._bias_of: dict[int, int] = {}
        self.biases = nn.ParameterList()
        if self.bias:
            for gi, grp in enumerate(self._groups):
                if grp.target_level >= 0:
                    shape = (grp.out_width,) if self.shared else (len(grp.nodes), grp.out_width)
                    self._bias_of[gi] = len(self.biases)
                    self.biases.append(nn.Parameter(torch.zeros(shape)))

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter but the biases: convolution weights and the representation's.

        With :meth:`bias_parameters`, for optimizer parameter groups (e.g. weight
        decay on the weights only).
        """
        ids = {id(b) for b in self.biases}
        return [p for p in self.parameters() if id(p) not in ids]

    def bias_parameters(self) -> list[nn.Parameter]:
        """The biases of the hidden convolutions (empty unless ``bias=True``)."""
        return list(self.biases)

    def _weight(self, gi: int) -> torch.Tensor:
        """The ``gi``-th group's weights in linear space, ``(n, in, out)`` or ``(in, out)``."""
        w = self.weights[gi]
        return torch.exp(w) if self.positive else w

    # ------------------------------------------------------------------ input
    def local_vectors(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs as one local vector per position: ``(batch, N, s)``.

        Accepts ``(batch, N, s)`` sequences, or ``(batch, C, H, W)`` images for a
        grid tree (positions row-major; ``patch`` gathers neighbourhoods), as
        real tensors (floating or integer) with finite entries and at least one
        example; they are moved to the parameters' device and dtype.

        Raises
        ------
        TypeError
            For a non-tensor, or a complex or boolean tensor (complex inputs
            are refused rather than losing their imaginary part).
        ValueError
            For the wrong shape, an empty batch, or NaN/inf entries.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: expected a torch.Tensor, got {describe(x)}")
        # a finite sum proves every entry finite (NaN and inf propagate); otherwise (or on an
        # overflowing sum) check_array counts the entries
        known_finite = x.is_floating_point() and bool(torch.isfinite(x.sum()))
        check_array(x, "x", ndim=(3, 4), finite=not known_finite)
        if x.shape[0] == 0:
            raise ValueError(f"x: expected a non-empty batch, got shape {tuple(x.shape)}")
        n = self.tree.num_leaves
        if x.dim() == 4:
            if self.tree.shape is None:
                raise ValueError(
                    "x: image input (batch, C, H, W) needs a grid tree; "
                    f"this tree is {self.tree.kind}"
                )
            h, w = self.tree.shape
            k = self.patch or 1
            if x.shape[2:] != (h, w) or x.shape[1] * k * k != self.in_dim:
                c = self.in_dim // (k * k)
                raise ValueError(
                    f"x: expected shape (batch, {c}, {h}, {w}) for in_dim={self.in_dim}"
                    + (f" with patch={k}" if k > 1 else "")
                    + f", got {tuple(x.shape)}"
                )
            if k > 1:
                x = nn.functional.unfold(x, kernel_size=k, padding=k // 2)  # (B, C*k*k, H*W)
                x = x.transpose(1, 2)
            else:
                x = x.flatten(2).transpose(1, 2)
        if x.dim() != 3 or x.shape[1:] != (n, self.in_dim):
            raise ValueError(
                f"x: expected shape (batch, {n}, {self.in_dim}) (the tree has {n} leaves, "
                f"in_dim={self.in_dim}), got {tuple(x.shape)}"
            )
        w = self.weights[0]
        return x.to(device=w.device, dtype=w.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``f(x_i)`` at every position: ``(batch, N, M)``."""
        return self.rep._forward(self.local_vectors(x))

    # ---------------------------------------------------------------- forward
    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Root outputs: ``(log|h|, sign h)`` for product pooling, ``(h, None)`` otherwise.

        For positive weights the sign is ``None`` too (``h > 0``).  A signed
        output that is exactly 0 has sign 0 and the finite stand-in
        ``log(TINY) + E log 2`` for ``log 0``.
        """
        u, e = blockwise.run(self, x)
        if e is None:  # max / average pooling
            return u, None
        if self.positive:  # u is already log(h / 2**E)
            return u + e * LN2, None
        sign = torch.sign(u.detach())
        mag = torch.where(u == 0, torch.full_like(u, TINY), u.abs())
        return torch.log(mag) + e * LN2, sign

    def _run_log_space(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The former route, :func:`dltheory.nets.logconv.run_log_space`: the tests' reference."""
        return run_log_space(self, x)

    # ---------------------------------------------------------------- outputs
    def _check_output(self, y: Any) -> int:
        """An output index ``y`` in ``0 .. out_dim - 1``."""
        fix = f"the network has {self.out_dim} outputs"
        return check_int(y, "y", minimum=0, maximum=self.out_dim - 1, fix=fix)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The network's exact outputs ``h_y(x)``, shape ``(batch, out_dim)``.

        For product pooling this is ``sign * exp(log|h|)`` and overflows to
        ``inf`` when ``|h|`` exceeds the dtype; :meth:`log_scores` never does.
        Use a float64 network (``dtype=torch.float64`` or ``net.double()``) for exact checks.

        Raises
        ------
        TypeError, ValueError
            For a bad ``x`` (see :meth:`local_vectors`), or a NaN output
            (non-finite weights).
        """
        val, sign = self._run(x)
        refuse_nan(val, "scores")  # before exp: torch.sign(NaN) is 0
        if self.pooling != "product":
            out = val
        else:
            # an exact zero (sign 0) has a finite stand-in for log 0 that exp may overflow:
            # 0 * inf would be NaN, so its exponent is replaced (by 0) before exp
            if sign is None:
                out = torch.exp(val)
            else:
                out = sign * torch.exp(val.masked_fill(sign == 0, 0.0))
        return out

    def log_scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log|h_y(x)|, sign h_y(x))`` for product pooling.

        An output that is exactly 0 has sign 0 and the finite stand-in
        ``log(TINY) + E log 2`` for ``log 0`` (``TINY`` of
        :mod:`dltheory.nets.logconv`, ``2**E`` the output's scale).

        Raises
        ------
        ValueError
            For max or average pooling, a bad ``x``, or a NaN output.
        """
        if self.pooling != "product":
            raise ValueError("pooling: log_scores is defined for product pooling only; use scores")
        val, sign = self._run(x)
        refuse_nan(val, "log_scores")
        return val, (torch.ones_like(val) if sign is None else sign)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training logits, ``(batch, out_dim)``.

        * positive product pooling: ``log h_y(x)`` (softmax over ``log h_y``, as in the
          original ConvAC experiments);
        * signed product pooling: ``logit_scale * h_y / max_y' |h_y'|``, the
          maximum taken over the outputs of each example separately (per row),
          computed from the scaled outputs (the scale cancels): finite for any
          N, free of the overall scale of ``h`` (which for products over
          hundreds of positions spans hundreds of orders of magnitude), and with
          the same arg-max as ``h``;
        * max / average pooling: ``h_y(x)``.

        The input is checked as in :meth:`local_vectors`.  Logits of a net whose
        weights have become non-finite are returned as they are (NaN), so that
        :func:`dltheory.train` can stop and report the divergence.
        """
        u, e = blockwise.run(self, x)
        if e is None:  # max / average pooling
            return u
        if self.positive:
            return u + e * LN2
        return row_normalized_logits(u, self.logit_scale)

    # ---------------------------------------------------------------- analysis
    def coefficient_tensor(self, y: int = 0) -> TreeTensor:
        """The coefficient tensor ``A_y`` (float64): ``h_y(x) = <A_y, f(x_1) (x) ... (x) f(x_N)>``.

        ``A_y`` is decomposed along the same tree with the same weights; ``f``
        is this network's representation layer (:meth:`features`).

        Parameters
        ----------
        y : int
            The output, in ``0 .. out_dim - 1``.

        Raises
        ------
        ValueError
            For max or average pooling, where no coefficient tensor exists: use
            :meth:`grid_tensor`; for a ``y`` out of range; for non-finite weights.
        TypeError
            For a ``y`` that is not an integer (``True``, ``1.0``).
        """
        if self.pooling != "product":
            raise ValueError(
                f"pooling: a {self.pooling}-pooling network is not multilinear and has no "
                "coefficient tensor; analyse net.grid_tensor(templates) instead"
            )
        y = self._check_output(y)
        mats: dict[int, np.ndarray] = {}
        with torch.no_grad():
            for gi, grp in enumerate(self._groups):
                w = self._weight(gi).detach().to(torch.float64).cpu().numpy()
                if not np.isfinite(w).all():
                    raise ValueError(
                        "coefficient_tensor: the network's weights have NaN or infinite entries "
                        "(a diverged training?); reinitialize or retrain it"
                    )
                for row, v in enumerate(grp.nodes):
                    mats[v] = w if self.shared else w[row]
        root = self.tree.root
        nodes = {v: mats[v] for v in self.tree.internal_nodes}
        nodes[root] = mats[root][:, [y]]
        return TreeTensor(self.tree, [mats[i] for i in range(self.tree.num_leaves)], nodes)

    def grid_tensor(self, templates: torch.Tensor | np.ndarray, y: int = 0) -> np.ndarray:
        """Grid tensor of output ``y`` on template local vectors (any pooling).

        Parameters
        ----------
        templates : ndarray or Tensor, shape (M, s)
            ``M >= 1`` real, finite template points of size ``s = in_dim``
            (shape ``(M,)`` when ``in_dim == 1``).
        y : int
            The output, in ``0 .. out_dim - 1``.

        Returns
        -------
        ndarray, shape (M,) * N
            ``h_y`` at every N-tuple of templates (refused when ``M^N`` is too
            large, see :func:`dltheory.analysis.grid.grid_tensor`).
        """
        from ..analysis.grid import grid_tensor

        y = self._check_output(y)
        check_array(templates, "templates", ndim=(1, 2) if self.in_dim == 1 else 2)
        shape = tuple(templates.shape)
        if shape[0] == 0 or (len(shape) == 2 and shape[1] != self.in_dim):
            raise ValueError(
                f"templates: expected M >= 1 template points of size in_dim = {self.in_dim}, "
                f"shape (M, {self.in_dim}), got {shape}"
            )
        points: Any = templates
        if isinstance(points, torch.Tensor):
            points = points.detach().cpu().numpy()

        def f(local: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                t = torch.as_tensor(
                    local, dtype=self.weights[0].dtype, device=self.weights[0].device
                )
                return self.scores(t)[:, y].double().cpu().numpy()

        return grid_tensor(f, np.asarray(points, dtype=np.float64), self.tree.num_leaves)

    def extra_repr(self) -> str:
        return (
            f"tree={self.tree!r}, in_dim={self.in_dim}, M={self.num_features}, "
            f"out_dim={self.out_dim}, representation={self.representation!r}, "
            f"pooling={self.pooling!r}, shared={self.shared}, positive={self.positive}"
            + (", bias=True" if self.bias else "")
            + (f", init={self.init!r}" if self.init != "default" else "")
        )
