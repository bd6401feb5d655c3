"""Tree tensors: hierarchical decompositions in the ConvAC form.

For a :class:`~dltheory.trees.ModeTree` with width ``r_v`` at internal node
``v`` the coefficient tensor ``A`` of a convolutional arithmetic circuit is
built bottom-up (Cohen, Sharir & Shashua, COLT'16, eq. (3)-(5)):

* a leaf ``i`` maps the ``M`` descriptors to its parent's width with a matrix
  ``A_i`` of shape ``(M, r_parent)``;
* an internal node ``v`` multiplies its children's channel vectors elementwise
  (product pooling) and maps the pooled vector to its parent's width with
  ``W_v`` of shape ``(r_v, r_parent)``; the root maps to ``out_dim`` outputs:

  ``phi_v = sum_alpha W_v[alpha, :] * (x)_{c in children(v)} phi_c[alpha]``.

The flat tree gives the CP decomposition
``A = sum_g a_g * a^(1)_g (x) ... (x) a^(N)_g``; the balanced binary tree gives
the hierarchical Tucker decomposition; the chain tree a tensor train.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from .trees import ModeTree, Ranks
from .validation import check_choice, check_int, check_seed, check_size

if TYPE_CHECKING:
    from .analysis.mincut import Cut
    from .analysis.spectrum import Spectrum

__all__ = ["TreeTensor", "DEFAULT_MAX_DENSE_ENTRIES", "MAX_PARAMS"]

#: Largest number of entries :meth:`TreeTensor.to_dense` materializes by default
#: (2**26 float64 entries = 512 MiB).
DEFAULT_MAX_DENSE_ENTRIES = 2**26


#: Most parameters :meth:`TreeTensor.random` draws (2^28 float64 = 2 GiB).
MAX_PARAMS = 2**28


def _check_dim(x: Any, name: str) -> int:
    return check_int(x, name, minimum=1)


def _as_matrix(a: Any, name: str) -> NDArray[Any]:
    """A real numeric matrix (integers kept exact); complex, boolean, object entries refused."""
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: expected real values, got complex; pass the real part explicitly")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a numeric matrix, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a matrix, got shape {arr.shape}")
    return arr


class TreeTensor:
    """A tensor of order N decomposed along a mode tree (the ConvAC form).

    Parameters
    ----------
    tree : ModeTree
        The pooling geometry.
    leaf_weights : sequence of ndarray
        ``leaf_weights[i]`` has shape ``(M, r_parent(i))``.
    node_weights : mapping internal node -> ndarray
        ``node_weights[v]`` has shape ``(r_v, r_parent(v))``; for the root
        ``(r_root, out_dim)``.

    Notes
    -----
    Integer-valued parameters (int64 arrays) are kept exact: :meth:`to_dense`
    with ``exact=True`` returns Python integers and
    ``matricization_rank(I, method="modular")`` certifies ranks over a prime
    field.
    """

    def __init__(
        self,
        tree: ModeTree,
        leaf_weights: Sequence[NDArray[Any]],
        node_weights: Mapping[int, NDArray[Any]],
    ) -> None:
        if not isinstance(tree, ModeTree):
            raise TypeError(f"tree: expected a ModeTree, got {type(tree).__name__}")
        self.tree = tree
        n = tree.num_leaves
        if isinstance(leaf_weights, (str, bytes)) or not isinstance(leaf_weights, Sequence):
            raise TypeError(f"leaf_weights: expected a sequence of {n} matrices")
        if len(leaf_weights) != n:
            raise ValueError(f"leaf_weights: expected {n} matrices, got {len(leaf_weights)}")
        if not isinstance(node_weights, Mapping):
            raise TypeError("node_weights: expected a mapping internal node -> matrix")
        leaves = [_as_matrix(a, f"leaf_weights[{i}]") for i, a in enumerate(leaf_weights)]
        nodes = {
            check_int(v, "node_weights (a key)"): _as_matrix(w, f"node_weights[{v}]")
            for v, w in node_weights.items()
        }
        missing = [v for v in tree.internal_nodes if v not in nodes]
        if missing:
            raise ValueError(f"node_weights: missing internal nodes {missing[:5]}")
        integer = all(a.dtype.kind in "iu" for a in leaves) and all(
            w.dtype.kind in "iu" for w in nodes.values()
        )
        dtype = np.int64 if integer else np.float64
        self.leaf_weights = [a.astype(dtype) for a in leaves]
        self.node_weights = {v: nodes[v].astype(dtype) for v in tree.internal_nodes}
        self.widths: dict[int, int] = {}
        for v in tree.internal_nodes:
            w = self.node_weights[v]
            if w.ndim != 2:
                raise ValueError(f"node_weights[{v}]: expected a matrix, got shape {w.shape}")
            self.widths[v] = w.shape[0]
        m = self.leaf_weights[0].shape[0] if self.leaf_weights[0].ndim == 2 else -1
        for i, a in enumerate(self.leaf_weights):
            p = tree.parent(i)
            assert p is not None
            if a.ndim != 2 or a.shape != (m, self.widths[p]):
                raise ValueError(
                    f"leaf_weights[{i}]: expected shape ({m}, {self.widths[p]}), got {a.shape}"
                )
        for v in tree.internal_nodes:
            p = tree.parent(v)
            if p is not None and self.node_weights[v].shape[1] != self.widths[p]:
                raise ValueError(
                    f"node_weights[{v}]: expected {self.widths[p]} columns (width of its "
                    f"parent {p}), got {self.node_weights[v].shape[1]}"
                )
        if not np.all([np.isfinite(a).all() for a in self.leaf_weights]) or not np.all(
            [np.isfinite(w).all() for w in self.node_weights.values()]
        ):
            raise ValueError("leaf_weights/node_weights: parameters must be finite")
        self.in_dim = m
        self.out_dim = self.node_weights[tree.root].shape[1]

    # --------------------------------------------------------------- creation
    @classmethod
    def random(
        cls,
        tree: ModeTree,
        in_dim: int,
        ranks: Ranks,
        seed: int | None = 0,
        *,
        out_dim: int = 1,
        integer: bool = False,
        int_range: int = 100,
        nonzero: bool = False,
        scale: Literal["unit", "fan-in"] = "unit",
    ) -> TreeTensor:
        """Random parameters: standard Gaussian, or uniform integers for exact analysis.

        Parameters
        ----------
        tree : ModeTree
        in_dim : int
            Number of descriptors M (the size of each mode).
        ranks : int, sequence or mapping
            Widths of the internal nodes (see :meth:`ModeTree.resolve_ranks`).
        seed : int or None
            Seed of :func:`numpy.random.default_rng`; the same seed gives the same tensor.
        out_dim : int
            Number of outputs of the root.
        integer : bool
            Draw integers uniformly from ``[-int_range, int_range]`` (int64)
            instead of Gaussians; required by ``method="modular"``.  The range
            matters: a theorem that holds "almost everywhere" fails on integer
            draws whenever a factor is singular, which for 2x2 factors with
            entries in [-10, 10] happens in about half of the N = 16 deep nets;
            with the default [-100, 100], in about 1% (0 of seeds 0..199; 2 of the
            200 draws of the depth-efficiency claim's full profile).
        nonzero : bool
            With ``integer=True``, draw uniformly from ``[-int_range, int_range]``
            without 0.  A zero entry (probability 1/201 by default) can delete a
            term of a product or CP sum, a measure-zero event for real weights that
            statements about almost all weights should not be tested on.
        scale : {"unit", "fan-in"}
            Gaussian standard deviation 1, or ``1/sqrt(fan-in)``.
        """
        if not isinstance(tree, ModeTree):
            raise TypeError(f"tree: expected a ModeTree, got {type(tree).__name__}")
        m = _check_dim(in_dim, "in_dim")
        out = _check_dim(out_dim, "out_dim")
        widths = tree.resolve_ranks(ranks)
        # int64 draws: the range and the products of the modular analysis stay exact
        k = check_int(int_range, "int_range", minimum=1, maximum=2**30) if integer else 0
        check_choice(scale, "scale", ("unit", "fan-in"))
        if not isinstance(integer, bool) or not isinstance(nonzero, bool):
            raise TypeError("integer, nonzero: expected True or False")
        count = 0
        for v in tree.nodes:
            p = tree.parent(v)
            cols = out if p is None else widths[p]
            count += (m if v < tree.num_leaves else widths[v]) * cols
        check_size(
            count, "ranks", limit=MAX_PARAMS, what="the parameters", fix="use smaller widths or M"
        )
        rng = np.random.default_rng(None if seed is None else check_seed(seed))

        def draw(rows: int, cols: int) -> NDArray[Any]:
            if integer and nonzero:  # [-k, k-1] shifted up at 0: uniform on [-k, k] without 0
                x = rng.integers(-k, k, size=(rows, cols), dtype=np.int64)
                return np.where(x >= 0, x + 1, x)
            if integer:
                return rng.integers(-k, k + 1, size=(rows, cols), dtype=np.int64)
            std = 1.0 if scale == "unit" else 1.0 / np.sqrt(rows)
            return rng.standard_normal((rows, cols)) * std

        def out_width(v: int) -> int:
            p = tree.parent(v)
            return out if p is None else widths[p]

        leaves = [draw(m, out_width(i)) for i in range(tree.num_leaves)]
        nodes = {v: draw(widths[v], out_width(v)) for v in tree.internal_nodes}
        return cls(tree, leaves, nodes)

    # ------------------------------------------------------------- properties
    @property
    def num_leaves(self) -> int:
        """Order N of the tensor."""
        return self.tree.num_leaves

    @property
    def is_integer(self) -> bool:
        """Whether all parameters are integers (exact analysis available)."""
        return self.leaf_weights[0].dtype == np.int64

    @property
    def num_params(self) -> int:
        """Number of parameters: O(r^2 N) for a balanced tree versus M^N dense entries."""
        return int(
            sum(a.size for a in self.leaf_weights) + sum(w.size for w in self.node_weights.values())
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the dense tensor ``(M,)*N`` (plus ``(out_dim,)`` when out_dim > 1)."""
        tail = (self.out_dim,) if self.out_dim > 1 else ()
        return (self.in_dim,) * self.num_leaves + tail

    def output(self, y: int) -> TreeTensor:
        """The single-output tree tensor of output ``y`` (shares the other parameters)."""
        y = check_int(y, "y", minimum=0, maximum=self.out_dim - 1, fix="an output index")
        nodes = dict(self.node_weights)
        root = self.tree.root
        nodes[root] = nodes[root][:, [int(y)]]
        return TreeTensor(self.tree, self.leaf_weights, nodes)

    def __repr__(self) -> str:
        kind = "integer" if self.is_integer else "float64"
        return (
            f"TreeTensor({self.tree!r}, in_dim={self.in_dim}, out_dim={self.out_dim}, "
            f"widths={sorted(set(self.widths.values()))}, params={self.num_params}, {kind})"
        )

    # ------------------------------------------------------------- evaluation
    def evaluate(self, features: NDArray[Any]) -> NDArray[np.float64]:
        """``<A, f(x_1) (x) ... (x) f(x_N)>`` for per-position feature vectors.

        Parameters
        ----------
        features : ndarray, shape (batch, N, M) or (N, M)
            The representation ``f(x_i)`` at each position.

        Returns
        -------
        ndarray, shape (batch, out_dim) or (out_dim,)
            Computed by contracting along the tree (never materializing A).
        """
        raw = np.asarray(features)
        if raw.dtype.kind == "c":
            raise TypeError("features: expected real values, got complex")
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"features: expected numbers, got dtype {raw.dtype}")
        single = raw.ndim == 2
        shape = raw.shape if not single else (1, *raw.shape)
        if len(shape) != 3 or shape[1:] != (self.num_leaves, self.in_dim):
            raise ValueError(
                f"features: expected shape (batch, {self.num_leaves}, {self.in_dim}), "
                f"got {raw.shape}"
            )
        width = max(self.widths.values()) if self.widths else 1
        check_size(
            shape[0] * max(width, self.in_dim) * 4,
            "features",
            limit=MAX_PARAMS,
            what="the batch's intermediate values",
            fix="evaluate in smaller batches",
        )
        f = raw.astype(np.float64).reshape(shape)
        if not np.isfinite(f).all():
            raise ValueError("features: contains NaN or infinite values")
        vals: dict[int, NDArray[Any]] = {}
        for i in range(self.num_leaves):
            vals[i] = f[:, i, :] @ self.leaf_weights[i]
        for v in self.tree.internal_nodes:
            kids = self.tree.children(v)
            pooled = vals.pop(kids[0])
            for c in kids[1:]:
                pooled = pooled * vals.pop(c)
            vals[v] = pooled @ self.node_weights[v]
        out = vals[self.tree.root]
        return out[0] if single else out

    # ------------------------------------------------------------------ dense
    def dense_size(self) -> int:
        """Largest number of entries that :meth:`to_dense` holds at once."""
        m = self.in_dim
        biggest = 0
        for v in self.tree.internal_nodes:
            nv = self.tree.num_leaves_under(v)
            biggest = max(biggest, m**nv * max(self.widths[v], self.node_weights[v].shape[1]))
        return biggest

    def to_dense(
        self, *, max_entries: int = DEFAULT_MAX_DENSE_ENTRIES, exact: bool = False
    ) -> NDArray[Any]:
        """Materialize the tensor, shape ``(M,)*N`` (plus ``(out_dim,)`` if out_dim > 1).

        Parameters
        ----------
        max_entries : int
            Refuse (``ValueError``) when an intermediate would hold more entries.
        exact : bool
            For integer tensors, compute with Python integers (object array), free
            of overflow and rounding.

        Raises
        ------
        ValueError
            When the tensor is too large to materialize; the structured
            analyses (:meth:`schmidt_values`, :meth:`matricization_rank`) never need it.
        """
        limit = check_int(max_entries, "max_entries", minimum=1)
        if not isinstance(exact, bool):
            raise TypeError(f"exact: expected True or False, got {exact!r}")
        check_size(
            self.dense_size(),
            "max_entries",
            limit=limit,
            what=f"the dense tensor of {self.in_dim}^{self.num_leaves} entries",
            fix="use schmidt_values / matricization_rank, which never materialize it, or raise "
            "max_entries",
        )
        if exact and not self.is_integer:
            raise ValueError("exact: exact=True needs integer parameters (random(integer=True))")
        dtype: Any = object if exact else np.float64
        mats: dict[int, NDArray[Any]] = {}
        order: dict[int, list[int]] = {}
        for i in range(self.num_leaves):
            mats[i] = self.leaf_weights[i].astype(dtype)
            order[i] = [i]
        for v in self.tree.internal_nodes:
            kids = self.tree.children(v)
            p = mats.pop(kids[0])
            modes = order.pop(kids[0])
            for c in kids[1:]:
                q = mats.pop(c)
                p = (p[:, None, :] * q[None, :, :]).reshape(p.shape[0] * q.shape[0], -1)
                modes = modes + order.pop(c)
            mats[v] = p @ self.node_weights[v].astype(dtype)
            order[v] = modes
        root = self.tree.root
        n, m = self.num_leaves, self.in_dim
        t = mats[root].reshape((m,) * n + (self.out_dim,))
        perm = list(np.argsort(order[root])) + [n]
        t = t.transpose(perm)
        return t[..., 0] if self.out_dim == 1 else t

    # --------------------------------------------------------------- analysis
    def schmidt_spectrum(self, I: Iterable[int], **kwargs: Any) -> Spectrum:
        """Schmidt spectrum with its log-scale; see :func:`dltheory.analysis.schmidt_spectrum`."""
        from .analysis.spectrum import schmidt_spectrum

        return schmidt_spectrum(self, I, **kwargs)

    def schmidt_values(
        self, I: Iterable[int], *, normalized: bool = True, **kwargs: Any
    ) -> NDArray[np.float64]:
        """Singular values of the matricization w.r.t. the leaf set ``I``, without materializing.

        Divided by their Euclidean norm unless ``normalized=False`` (which
        raises ``ValueError`` where the values exceed float64, as for random
        32x32 nets); see :func:`dltheory.analysis.schmidt_values`.
        """
        from .analysis.spectrum import schmidt_values

        return schmidt_values(self, I, normalized=normalized, **kwargs)

    def matricization_rank(
        self, I: Iterable[int], method: Literal["svd", "modular"] = "svd", **kwargs: Any
    ) -> int:
        """Rank of the matricization w.r.t. ``I``; see :func:`dltheory.analysis.matricization_rank`.

        ``method="modular"`` certifies it exactly for integer tensors.
        """
        from .analysis.spectrum import matricization_rank

        return matricization_rank(self, I, method=method, **kwargs)

    def min_cut(self, I: Iterable[int]) -> Cut:
        """Minimal cut of this tensor's network separating ``I``; an upper bound on every rank."""
        from .analysis.mincut import min_cut

        return min_cut(self.tree, self.widths, I, in_dim=self.in_dim)
