"""Mixed tensor decompositions: two mode trees that exchange intermediate tensors.

Cohen, Tamari & Shashua, "Boosting Dilated Convolutional Networks with Mixed
Tensor Decompositions", ICLR 2018 (arXiv:1703.06846).

Dilated networks as mode trees
------------------------------
A 1D dilated convolutional network with size-2 filters and dilation ``d_l`` at
layer ``l``, seen from one output, pools along the mode tree
``ModeTree.dilated(N, (d_1, ..., d_L))`` (the paper's Sec. 3, Fig. 2).  The
WaveNet scheme ``d_l = 2^(l-1)`` gives the contiguous balanced tree ``T``;
exchanging the dilations of layers ``l`` and ``l + 1`` gives a tree ``T̄`` whose
nodes are those of ``T`` at every level but ``l`` (:func:`shared_nodes`): for
``(2, 1, 4, ...)`` the blocks of 4 positions and everything above them; the
reversed scheme ``(..., 4, 2, 1)`` shares no node but the root with ``T``.

The mixed decomposition (the paper's eq. (4), Fig. 3)
-----------------------------------------------------
Both trees are in the ConvAC form of :mod:`dltheory.tensors`: tree
``t in {a, b}`` has widths ``r^t_v``, leaf matrices ``A^t_i`` (``M x r^t_parent``)
and, at an internal node, ``p^t_v = (.)_{c in children_t(v)} u^t_c`` (product
pooling, length ``r^t_v``) and ``u^t_v = (W^t_v)^T p^t_v``.  A *mixture node*
``nu`` is an index set that is an internal node of both trees (not the root).
There the two networks exchange their tensors: the convolution at ``nu`` of
*each* network reads the pooled channels of *both*,

``u^t_nu = (W^t_nu)^T [p^a_nu ; p^b_nu]``,  ``W^t_nu`` of shape ``(r^a_nu + r^b_nu, r^t_parent)``

(the a-channels first in both trees), which is the paper's "rewiring of an
intermediate convolutional layer"; the outputs are summed,
``A = u^a_root + u^b_root`` ("output summation").  Without mixture nodes
``A = A_T + A_T̄``, the two networks side by side.  The paper writes eq. (4)
with the node tensors ``phi^{nu, gamma}`` of its eq. (3) (``u`` here);
concatenating the ``phi``'s of *all* children of a node that both trees pool
from the same children (a whole mixed layer) equals the form above at that
node, as product pooling is channel-wise.

What is certified here (exact, per draw; tested at small N)
-----------------------------------------------------------
The paper's theorem: interconnecting the networks of ``T`` and ``T̄`` at
intermediate mixture nodes gives tensors that either network alone can only
generate with (almost) quadratically larger widths, for all weights but a set
of measure zero (the "almost quadratic gap" of the abstract; the paper's exact
constants are not restated here).  The mechanism is a matricization rank.  For
``T = dilated(N, (1, 2, 4, ...))``, ``T̄ = dilated(N, (2, 1, 4, ...))``, ``N >= 8``,
the blocks ``B_k = {4k, ..., 4k+3}`` (nodes of both trees) and the witness
partition ``I_w`` taking ``{4k, 4k+1}`` from even blocks and ``{4k, 4k+2}``
from odd ones:

* ``rank_T(I_w) <= min(r_0, r_1, M^2)^(N/8) * min(r_0, M)^(N/4)`` for every
  weight setting (one cut: per contiguously split block the level-0 bond of
  its J pair or its level-1 bond, per interleaved block two level-0 bonds or
  two legs), and symmetrically for ``T̄``; so a single tree of uniform width
  ``r'`` reaches the full rank ``M^(N/2)`` only if ``r' >= M^2``;
* the mixed decomposition with the blocks as mixture nodes and width ``r = M``
  in both trees reaches ``M^(N/2)`` (certified by modular ranks on integer
  draws, N = 8 and 16), as the two trees side by side (no mixture) do not:
  the single trees need ``r' >= r^2``, the quadratic gap.

:class:`MixedTensor` computes these ranks exactly (SVD, and modular ranks that
certify them for integer weights) through the reduction of
:mod:`dltheory.mixed.rank`, and min cuts that bound them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..tensors import DEFAULT_MAX_DENSE_ENTRIES, MAX_PARAMS
from ..trees import ModeTree, Ranks
from ..validation import check_flag, check_int, check_seed, check_size
from .forward import node_sets

if TYPE_CHECKING:
    from ..analysis.mincut import Cut
    from ..analysis.spectrum import Spectrum

__all__ = ["MixedTensor", "shared_nodes"]

#: Most leaf-set entries :func:`shared_nodes` lists over both trees (a chain of 10^5
#: positions has ~5e9); beyond it the trees are refused before any work.
MAX_SET_ENTRIES = 2**24


def _check_tree(tree: Any, name: str) -> ModeTree:
    if not isinstance(tree, ModeTree):
        raise TypeError(f"{name}: expected a ModeTree, got {type(tree).__name__}")
    return tree


def _check_pair(tree_a: Any, tree_b: Any) -> tuple[ModeTree, ModeTree]:
    a, b = _check_tree(tree_a, "tree_a"), _check_tree(tree_b, "tree_b")
    if a.num_leaves != b.num_leaves:
        raise ValueError(
            f"tree_b: expected a tree over the same {a.num_leaves} positions as tree_a, "
            f"got {b.num_leaves} positions; mixed decompositions join trees over one input"
        )
    for t, name in ((a, "tree_a"), (b, "tree_b")):
        total = sum(t.num_leaves_under(v) for v in t.internal_nodes)
        check_size(total, name, limit=MAX_SET_ENTRIES, what="the leaf sets of its nodes")
    return a, b


def shared_nodes(tree_a: ModeTree, tree_b: ModeTree) -> list[frozenset[int]]:
    """The internal index sets both trees have, below the root: the candidate mixture nodes.

    Ordered by size, then by their sorted positions.

    >>> T = ModeTree.dilated(8, (1, 2, 4))
    >>> [sorted(s) for s in shared_nodes(T, ModeTree.dilated(8, (2, 1, 4)))]
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    >>> shared_nodes(T, ModeTree.dilated(8, (4, 2, 1)))
    []
    """
    a, b = _check_pair(tree_a, tree_b)
    full = frozenset(range(a.num_leaves))
    common = set(node_sets(a)) & set(node_sets(b))
    common.discard(full)
    return sorted(common, key=lambda s: (len(s), sorted(s)))


def _as_matrix(x: Any, name: str) -> NDArray[Any]:
    arr = np.asarray(x) if not hasattr(x, "detach") else x.detach().cpu().numpy()
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: expected real values, got complex; pass the real part")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a numeric matrix, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a matrix, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name}: has NaN or infinite entries; parameters must be finite")
    return arr


def _check_mix(mix: Any, a: ModeTree, b: ModeTree) -> tuple[frozenset[int], ...]:
    if mix is None:
        return ()
    candidates = shared_nodes(a, b)
    if isinstance(mix, str):
        if mix != "all":
            raise ValueError(f"mix: expected 'all' or a collection of index sets, got {mix!r}")
        return tuple(candidates)
    if isinstance(mix, (bytes, Mapping)) or not isinstance(mix, Iterable):
        raise TypeError(f"mix: expected a collection of index sets, got {type(mix).__name__}")
    out: list[frozenset[int]] = []
    allowed = set(candidates)
    for k, s in enumerate(mix):
        if isinstance(s, (str, bytes, Mapping)) or not isinstance(s, Iterable):
            raise TypeError(f"mix: entry {k} is not a collection of positions: {s!r}")
        node = frozenset(check_int(i, "mix", fix="positions are integers") for i in s)
        if node not in allowed:
            shown = sorted(node)[:8]
            why = (
                "the root, where the outputs are summed"
                if len(node) == a.num_leaves
                else ("not an internal node of both trees")
            )
            raise ValueError(
                f"mix: positions {shown} are {why}; mixture nodes are the sets "
                f"shared_nodes(tree_a, tree_b) lists ({len(candidates)} here)"
            )
        if node in out:
            raise ValueError(f"mix: the node {sorted(node)[:8]} is listed twice")
        out.append(node)
    return tuple(sorted(out, key=lambda s: (len(s), sorted(s))))


class MixedTensor:
    """The mixed decomposition of two mode trees over the same positions (ICLR'18, eq. (4)).

    Parameters
    ----------
    tree_a, tree_b : ModeTree
        Trees over the same ``N`` positions.
    leaf_weights_a, leaf_weights_b : sequence of ndarray
        ``N`` matrices ``(M, r^t_parent(i))`` per tree (one ``M`` for both).
    node_weights_a, node_weights_b : mapping internal node -> ndarray
        ``(r^t_v, r^t_parent(v))``; the root's ``(r^t_root, out_dim)``; a
        mixture node's ``(r^a_v + r^b_v, r^t_parent(v))`` (a-channels first).
        A node's width ``r^t_v`` is the column count of its children's matrices.
    mix : collection of index sets, "all" or None
        Mixture nodes, each a set listed by :func:`shared_nodes`; ``None`` or
        ``()`` for none (the sum of the two tree tensors), ``"all"`` for all.

    Notes
    -----
    Integer parameters (int64) are kept exact: ``to_dense(exact=True)`` and
    ``matricization_rank(I, method="modular")`` certify ranks.
    """

    def __init__(
        self,
        tree_a: ModeTree,
        tree_b: ModeTree,
        leaf_weights_a: Sequence[Any],
        node_weights_a: Mapping[int, Any],
        leaf_weights_b: Sequence[Any],
        node_weights_b: Mapping[int, Any],
        *,
        mix: Iterable[Iterable[int]] | Literal["all"] | None = None,
    ) -> None:
        a, b = _check_pair(tree_a, tree_b)
        self.trees = (a, b)
        self.mix = _check_mix(mix, a, b)
        #: per tree: leaf set -> the topmost internal node with that set
        self.sets = sets = (node_sets(a), node_sets(b))
        #: per tree: mixture node -> the other tree's node with the same set
        self.partner: tuple[dict[int, int], dict[int, int]] = (
            {sets[0][s]: sets[1][s] for s in self.mix},
            {sets[1][s]: sets[0][s] for s in self.mix},
        )
        raw = ((leaf_weights_a, node_weights_a, "a"), (leaf_weights_b, node_weights_b, "b"))
        leaves: list[list[NDArray[Any]]] = []
        nodes: list[dict[int, NDArray[Any]]] = []
        for t, (lw, nw, tag) in zip((a, b), raw, strict=True):
            if isinstance(lw, (str, bytes)) or not isinstance(lw, Sequence):
                raise TypeError(
                    f"leaf_weights_{tag}: expected a sequence of {t.num_leaves} matrices"
                )
            if len(lw) != t.num_leaves:
                raise ValueError(
                    f"leaf_weights_{tag}: expected {t.num_leaves} matrices, got {len(lw)}"
                )
            if not isinstance(nw, Mapping):
                raise TypeError(f"node_weights_{tag}: expected a mapping internal node -> matrix")
            keys = {check_int(v, f"node_weights_{tag} (a key)") for v in nw}
            missing = [v for v in t.internal_nodes if v not in keys]
            extra = sorted(keys - set(t.internal_nodes))
            if missing or extra:
                what = [f"misses internal nodes {missing[:5]}"] if missing else []
                what += [f"has keys {extra[:5]} that are not internal nodes"] if extra else []
                raise ValueError(f"node_weights_{tag}: " + " and ".join(what))
            leaves.append([_as_matrix(x, f"leaf_weights_{tag}[{i}]") for i, x in enumerate(lw)])
            nodes.append({int(v): _as_matrix(w, f"node_weights_{tag}[{v}]") for v, w in nw.items()})
        self.in_dim = int(leaves[0][0].shape[0])
        self.widths = (self._widths(0, leaves[0], nodes[0]), self._widths(1, leaves[1], nodes[1]))
        self._check_shapes(leaves, nodes)
        integer = all(x.dtype.kind in "iu" for ls in leaves for x in ls) and all(
            w.dtype.kind in "iu" for ns in nodes for w in ns.values()
        )
        dtype = np.int64 if integer else np.float64
        self.leaf_weights = tuple([x.astype(dtype) for x in ls] for ls in leaves)
        self.node_weights = tuple({v: ns[v].astype(dtype) for v in sorted(ns)} for ns in nodes)
        self.out_dim = int(self.node_weights[0][a.root].shape[1])

    def _widths(
        self, k: int, leaves: list[NDArray[Any]], nodes: dict[int, NDArray[Any]]
    ) -> dict[int, int]:
        """Width of every internal node: the column count its children's matrices agree on."""
        tree, tag = self.trees[k], "ab"[k]
        out: dict[int, int] = {}
        for v in tree.internal_nodes:
            cols = set()
            for c in tree.children(v):
                w = leaves[c] if tree.is_leaf(c) else nodes[c]
                cols.add(int(w.shape[1]))
            if len(cols) != 1:
                raise ValueError(
                    f"node_weights_{tag}: the children of node {v} have {sorted(cols)} columns; "
                    "they must agree (the width of their parent)"
                )
            out[v] = cols.pop()
        return out

    def _check_shapes(self, leaves: list[list[NDArray[Any]]], nodes: list[dict[int, Any]]) -> None:
        m = self.in_dim
        for k, tree in enumerate(self.trees):
            tag = "ab"[k]
            for i, x in enumerate(leaves[k]):
                if x.shape[0] != m:
                    raise ValueError(
                        f"leaf_weights_{tag}[{i}]: expected {m} rows (M), got {x.shape[0]}"
                    )
            for v in tree.internal_nodes:
                rows, note = self.widths[k][v], ""
                if v in self.partner[k]:
                    rows += self.widths[1 - k][self.partner[k][v]]
                    note = "; a mixture node reads the r^a + r^b pooled channels of both trees"
                if nodes[k][v].shape[0] != rows:
                    raise ValueError(
                        f"node_weights_{tag}[{v}]: expected {rows} rows, "
                        f"got {nodes[k][v].shape[0]}{note}"
                    )
        outs = {nodes[k][t.root].shape[1] for k, t in enumerate(self.trees)}
        if len(outs) != 1:
            raise ValueError(
                f"node_weights_b: the roots have {sorted(outs)} outputs; they must agree"
            )

    # --------------------------------------------------------------- creation
    @classmethod
    def random(
        cls,
        tree_a: ModeTree,
        tree_b: ModeTree,
        in_dim: int,
        ranks_a: Ranks,
        ranks_b: Ranks,
        mix: Iterable[Iterable[int]] | Literal["all"] | None = None,
        seed: int | None = 0,
        *,
        out_dim: int = 1,
        integer: bool = False,
        int_range: int = 100,
    ) -> MixedTensor:
        """Random parameters: Gaussians, or integers uniform on ``[-int_range, int_range]``.

        ``ranks_a``/``ranks_b`` are widths as for :meth:`TreeTensor.random`
        (an int, one per level, or a mapping node -> width); the same seed
        gives the same tensor.
        """
        a, b = _check_pair(tree_a, tree_b)
        m = check_int(in_dim, "in_dim", minimum=1)
        out = check_int(out_dim, "out_dim", minimum=1)
        flag = check_flag(integer, "integer")
        k = check_int(int_range, "int_range", minimum=1, maximum=2**30) if flag else 0
        widths = (
            a.resolve_ranks(ranks_a, name="ranks_a"),
            b.resolve_ranks(ranks_b, name="ranks_b"),
        )
        mixed = _check_mix(mix, a, b)
        sets = (node_sets(a), node_sets(b))
        extra = [{sets[t][s]: widths[1 - t][sets[1 - t][s]] for s in mixed} for t in (0, 1)]
        shapes: list[list[tuple[int, int]]] = []
        for t, tree in enumerate((a, b)):
            sh = []
            for v in tree.nodes:
                p = tree.parent(v)
                cols = out if p is None else widths[t][p]
                rows = m if tree.is_leaf(v) else widths[t][v] + extra[t].get(v, 0)
                sh.append((rows, cols))
            check_size(
                sum(r * c for r, c in sh),
                f"ranks_{'ab'[t]}",
                limit=MAX_PARAMS,
                what="the parameters",
                fix="use smaller widths or M",
            )
            shapes.append(sh)
        rng = np.random.default_rng(None if seed is None else check_seed(seed))

        def draw(shape: tuple[int, int]) -> NDArray[Any]:
            if flag:
                return rng.integers(-k, k + 1, size=shape, dtype=np.int64)
            return rng.standard_normal(shape)

        params = []
        for t, tree in enumerate((a, b)):
            lw = [draw(shapes[t][i]) for i in range(tree.num_leaves)]
            nw = {v: draw(shapes[t][v]) for v in tree.internal_nodes}
            params.append((lw, nw))
        return cls(a, b, params[0][0], params[0][1], params[1][0], params[1][1], mix=mixed)

    # ------------------------------------------------------------- properties
    @property
    def num_leaves(self) -> int:
        """Order N of the tensor."""
        return self.trees[0].num_leaves

    @property
    def is_integer(self) -> bool:
        """Whether all parameters are integers (exact analysis available)."""
        return self.leaf_weights[0][0].dtype == np.int64

    @property
    def num_params(self) -> int:
        """Number of parameters of both networks, the mixture nodes' wider matrices included."""
        return int(
            sum(x.size for ls in self.leaf_weights for x in ls)
            + sum(w.size for ns in self.node_weights for w in ns.values())
        )

    def __repr__(self) -> str:
        kind = "integer" if self.is_integer else "float64"
        return (
            f"MixedTensor({self.trees[0]!r}, {self.trees[1]!r}, in_dim={self.in_dim}, "
            f"mixture nodes={len(self.mix)}, params={self.num_params}, {kind})"
        )

    def output(self, y: int) -> MixedTensor:
        """The single-output mixed tensor of output ``y`` (shares the other parameters)."""
        y = check_int(y, "y", minimum=0, maximum=self.out_dim - 1, fix="an output index")
        nodes = []
        for k, tree in enumerate(self.trees):
            ns = dict(self.node_weights[k])
            ns[tree.root] = ns[tree.root][:, [y]]
            nodes.append(ns)
        a, b = self.trees
        return MixedTensor(
            a, b, self.leaf_weights[0], nodes[0], self.leaf_weights[1], nodes[1], mix=self.mix
        )

    # ------------------------------------------------------------- evaluation
    def evaluate(self, features: Any) -> NDArray[np.float64]:
        """``<A, f(x_1) (x) ... (x) f(x_N)>`` on a batch, along both trees (A never formed).

        Parameters
        ----------
        features : ndarray or torch tensor, shape (batch, N, M) or (N, M)

        Returns
        -------
        ndarray, shape (batch, out_dim) or (out_dim,)
        """
        from .forward import evaluate

        return evaluate(self, features)

    def dense_size(self) -> int:
        """Largest number of entries :meth:`to_dense` holds at once."""
        from .forward import dense_size

        return dense_size(self)

    def to_dense(
        self, *, max_entries: int = DEFAULT_MAX_DENSE_ENTRIES, exact: bool = False
    ) -> NDArray[Any]:
        """Materialize ``A``, shape ``(M,)*N`` (plus ``(out_dim,)`` when out_dim > 1).

        Raises
        ------
        ValueError
            Naming ``max_entries`` when an intermediate would hold more entries
            (checked before any work); the ranks never need the dense tensor.
        """
        limit = check_int(max_entries, "max_entries", minimum=1)
        flag = check_flag(exact, "exact")
        check_size(
            self.dense_size(),
            "max_entries",
            limit=limit,
            what=f"the dense tensor of {self.in_dim}^{self.num_leaves} entries",
            fix="use matricization_rank / schmidt_values, which never materialize it",
        )
        if flag and not self.is_integer:
            raise ValueError("exact: exact=True needs integer parameters (random(integer=True))")
        from .forward import dense_values

        ua, ub = dense_values(self, exact=flag)
        out = ua + ub
        return out[..., 0] if self.out_dim == 1 else out

    # --------------------------------------------------------------- analysis
    def schmidt_spectrum(self, I: Iterable[int], **kwargs: Any) -> Spectrum:
        """Schmidt spectrum w.r.t. ``I``; see :func:`dltheory.mixed.rank.schmidt_spectrum`."""
        from .rank import schmidt_spectrum

        return schmidt_spectrum(self, I, **kwargs)

    def schmidt_values(
        self, I: Iterable[int], *, normalized: bool = True, **kwargs: Any
    ) -> NDArray[np.float64]:
        """Singular values of the matricization w.r.t. ``I`` (unit norm unless asked otherwise)."""
        from .rank import schmidt_values

        return schmidt_values(self, I, normalized=normalized, **kwargs)

    def matricization_rank(
        self, I: Iterable[int], method: Literal["svd", "modular"] = "svd", **kwargs: Any
    ) -> int:
        """Rank of the matricization w.r.t. ``I``; ``method="modular"`` certifies integer ones."""
        from .rank import matricization_rank

        return matricization_rank(self, I, method=method, **kwargs)

    def min_cut(self, I: Iterable[int]) -> Cut:
        """Minimal cut of the mixed network separating ``I``: an upper bound on the rank."""
        from .rank import min_cut

        return min_cut(self, I)
