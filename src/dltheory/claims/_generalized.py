"""Grid tensors of generalized ConvNets, evaluated exactly, and certified ranks of integer matrices.

Helpers of the claim ``generalized-depth-efficiency`` (Cohen & Shashua, ICML'16).

* :func:`draw_weights` -- random weights of a network over a mode tree, drawn from a
  float initialization (normal, uniform, orthogonal) and quantized to integers with one
  scale per tree level.  A bias-free network with ReLU and max or average pooling is
  positively homogeneous in the weights of each *level* (scaling a level by ``c > 0``
  scales the output by ``c``), so the level scale -- and with it the difference between
  He/Kaiming, LeCun, Xavier and unit-variance versions of one distribution -- does not
  change any grid-tensor rank; only the shape of the distribution does.  (Scaling one
  node alone is *not* a symmetry of max or average pooling: siblings are compared or
  added.)
* :func:`grid_tensor_exact` / :func:`grid_tensor_float` -- the grid tensor
  ``G[d_1..d_N] = h(x^(d_1), .., x^(d_N))`` of the network on M template points
  (Cohen & Shashua, ICML'16, Sec. 4, eq. 3), computed node by node over the tree without
  evaluating the ``M^N`` inputs one at a time.  With integer weights and templates, ReLU
  and max pooling keep integers; average pooling over windows of ``k`` children divides
  by ``k``, so the exact version pools by sums and returns the integer tensor together
  with the scale ``prod_levels k`` it carries (ReLU is positively homogeneous).  The
  network is the generalized ConvAC of :class:`dltheory.ConvAC` (same weights layout as
  its :meth:`~dltheory.ConvAC.coefficient_tensor`): a 1x1 convolution per node, ReLU after
  every convolution but the root's, pooling over each node's children.
* :func:`certified_rank` -- the rank of an integer matrix: a lower bound from the rank
  modulo a prime, made exact from above by the ranks modulo further primes whose product
  exceeds the Hadamard bound of the ``(r + 1)``-minors (each such minor is an integer
  divisible by every prime, and smaller than their product, hence 0).

These belong in the library (``dltheory.analysis``) if other claims need them: the lead
decides.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..analysis import matricize, min_cut, odd_even
from ..tensors import TreeTensor
from ..trees import ModeTree
from ..validation import check_choice, check_int, check_seed, check_size
from ._rank_certificate import (
    RankCertificate,
    certified_rank,
    float_rank,
    is_prime,
    primes_below,
    rank_mod,
)
from ._util import derive_seed
from .evidence import singular_factors

__all__ = [
    "CONVAC_PRIME",
    "INITS",
    "POOLINGS",
    "RankCertificate",
    "certified_rank",
    "draw_weights",
    "float_rank",
    "grid_tensor_exact",
    "grid_tensor_float",
    "grid_tensor_mod",
    "rank_mod",
    "level_arities",
    "parameter_count",
    "primes_below",
    "quantization_bits",
    "run_deep",
    "serial",
    "run_library",
    "run_shallow",
    "run_span",
    "shallow_ceiling",
]

#: Float initializations the weights are drawn from before quantization.
INITS = ("normal", "uniform", "orthogonal")
#: Pooling operations of the generalized network.
POOLINGS = ("max", "average", "product")
#: Entries of an int64 grid tensor must stay below this (products of two stay exact mod p).
INT_LIMIT = 2**62
#: Prime of the ConvAC ranks (the largest below 2^28, see :func:`grid_tensor_mod`).
CONVAC_PRIME = 2**28 - 57
#: Most grid-tensor entries (times output channels) one evaluation may hold.
MAX_GRID_ENTRIES = 2**25

Pooling = Literal["max", "average", "product"]


def level_arities(tree: ModeTree) -> list[int]:
    """Window size of each level; ``ValueError`` when a level mixes sizes or skips levels.

    The exact average pooling (sums, then one global scale) needs every node of a level
    to pool the same number of children, all from the level just below (leaves below
    level 0): true of balanced and flat trees.
    """
    arities: list[int] = []
    for lvl, nodes in enumerate(tree.levels()):
        sizes = set()
        for v in nodes:
            kids = tree.children(v)
            below = [-1 if tree.is_leaf(c) else tree.level(c) for c in kids]
            if any(b != lvl - 1 for b in below):
                raise ValueError(
                    f"tree: node {v} at level {lvl} pools children from other levels; the exact "
                    "grid tensor needs a levelled tree (balanced or flat)"
                )
            sizes.add(len(kids))
        if len(sizes) != 1:
            raise ValueError(f"tree: level {lvl} mixes window sizes {sorted(sizes)}")
        arities.append(sizes.pop())
    return arities


def parameter_count(tree: ModeTree, m: int, widths: dict[int, int], out_dim: int = 1) -> int:
    """Weights of the locally connected network: ``M x r`` per leaf, ``r_v x r_parent`` per node."""
    total = 0
    for v in tree.nodes:
        p = tree.parent(v)
        cols = out_dim if p is None else widths[p]
        total += (m if tree.is_leaf(v) else widths[v]) * cols
    return total


def quantization_bits(tree: ModeTree, widths: dict[int, int], cap: int = 20) -> int:
    """Largest ``q`` with integer weights in ``[-2^q, 2^q]`` keeping every sum-pooled value < 2^62.

    A priori bound on a balanced or flat tree with one-hot templates: the leaf level
    contributes ``2^q``, each further convolution ``fan-in * 2^q``, each sum pooling its
    window size.  :func:`grid_tensor_exact` re-checks the actual weights.
    """
    arities = level_arities(tree)
    bits = 0.0
    for lvl, nodes in enumerate(tree.levels()):
        bits += math.log2(arities[lvl]) + math.log2(max(widths[v] for v in nodes))
    convs = tree.depth + 1
    return max(0, min(cap, int((math.log2(INT_LIMIT) - 1 - bits) // convs)))


def _draw(rng: np.random.Generator, rows: int, cols: int, init: str) -> NDArray[np.float64]:
    """One float matrix ``(fan-in rows, cols)`` of an initialization (He scales)."""
    if init == "normal":  # He/Kaiming normal, N(0, 2/fan_in)
        return rng.standard_normal((rows, cols)) * math.sqrt(2.0 / rows)
    if init == "uniform":  # He/Kaiming uniform, U(-sqrt(6/fan_in), +sqrt(6/fan_in))
        bound = math.sqrt(6.0 / rows)
        return rng.uniform(-bound, bound, size=(rows, cols))
    k = max(rows, cols)  # orthogonal: Q of a Gaussian's QR (signs fixed by R's diagonal)
    q, r = np.linalg.qr(rng.standard_normal((k, k)))
    q = q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))[None, :]
    return np.asarray(q[:rows, :cols], dtype=np.float64)


def draw_weights(
    tree: ModeTree, m: int, width: int, init: str, seed: int, bits: int, out_dim: int = 1
) -> TreeTensor:
    """Random integer weights: a float ``init`` draw, quantized with one scale per level.

    Every matrix of a level (the leaves; the internal nodes of one level; the root) is
    divided by the level's largest absolute entry, times ``2^bits``, and rounded, so the
    largest entry of a level is ``+-2^bits``.
    """
    check_choice(init, "init", INITS)
    m = check_int(m, "m", minimum=1)
    width = check_int(width, "width", minimum=1)
    bits = check_int(bits, "bits", minimum=1, maximum=30)
    rng = np.random.default_rng(check_seed(seed))
    widths = tree.resolve_ranks(width)

    def cols(v: int) -> int:
        p = tree.parent(v)
        return out_dim if p is None else widths[p]

    raw: dict[int, NDArray[np.float64]] = {}
    for v in tree.nodes:
        raw[v] = _draw(rng, m if tree.is_leaf(v) else widths[v], cols(v), init)
    groups: dict[int, list[int]] = {}
    for v in tree.nodes:
        groups.setdefault(-1 if tree.is_leaf(v) else tree.level(v), []).append(v)
    out: dict[int, NDArray[np.int64]] = {}
    for members in groups.values():
        top = max(float(np.abs(raw[v]).max()) for v in members)
        for v in members:
            scaled = raw[v] / (top if top > 0 else 1.0) * 2.0**bits
            out[v] = np.rint(scaled).astype(np.int64)
    n = tree.num_leaves
    return TreeTensor(tree, [out[i] for i in range(n)], {v: out[v] for v in tree.internal_nodes})


def _pool(
    parts: list[NDArray[Any]], pooling: str, exact: bool, modulus: int | None = None
) -> NDArray[Any]:
    """All combinations of the children's rows, pooled channel by channel: ``(prod rows, r)``."""
    acc = parts[0]
    for nxt in parts[1:]:
        a, b = acc[:, None, :], nxt[None, :, :]
        if pooling == "max":
            acc = np.maximum(a, b)
        elif pooling == "product":
            acc = a * b if modulus is None else (a * b) % modulus
        else:
            acc = a + b
        acc = acc.reshape(-1, acc.shape[-1])
    if pooling == "average" and not exact:
        acc = acc / len(parts)
    return acc


def _evaluate(
    tt: TreeTensor,
    pooling: str,
    templates: NDArray[Any] | None,
    exact: bool,
    modulus: int | None = None,
) -> NDArray[Any]:
    """Grid tensor, shape ``(M,)*N`` (+ ``(out,)`` when the root has several outputs).

    ``modulus``: product pooling over the integers modulo a prime below 2^28 (every value
    is reduced after each product and convolution; sums of up to 127 products fit int64).
    """
    tree = tt.tree
    n, m = tree.num_leaves, tt.in_dim
    check_choice(pooling, "pooling", POOLINGS)
    feats = np.eye(m, dtype=np.int64) if templates is None else np.asarray(templates)
    if feats.ndim != 2 or feats.shape[1] != m:
        raise ValueError(f"templates: expected shape (M, {m}), got {feats.shape}")
    t = feats.shape[0]
    widest = max(max(w.shape) for w in tt.node_weights.values())
    check_size(
        t**n * widest,
        "templates",
        limit=MAX_GRID_ENTRIES,
        what=f"the grid tensor's {t}^{n} points x {widest} channels",
        fix="use fewer templates or positions",
    )
    relu = pooling != "product"
    dtype: Any = np.int64 if exact else np.float64

    def conv(x: NDArray[Any], w: NDArray[Any]) -> NDArray[Any]:
        if modulus is None:
            return x @ w.astype(dtype)
        return ((x % modulus) @ (w % modulus)) % modulus

    vals: dict[int, NDArray[Any]] = {}
    for i in range(n):
        u = conv(feats.astype(dtype), tt.leaf_weights[i])
        vals[i] = np.maximum(u, 0) if relu else u
    for v in tree.internal_nodes:
        pooled = _pool([vals.pop(c) for c in tree.children(v)], pooling, exact, modulus)
        u = conv(pooled, tt.node_weights[v])
        vals[v] = np.maximum(u, 0) if relu and v != tree.root else u
    out = vals[tree.root]
    # rows are indexed by the leaves in depth-first order; put them in position order
    order = tree.dfs_leaves()
    shape = (t,) * n + (() if tt.out_dim == 1 else (tt.out_dim,))
    grid = out.reshape((t,) * n + (tt.out_dim,))
    grid = np.transpose(grid, [order.index(i) for i in range(n)] + [n])
    return np.ascontiguousarray(grid.reshape(shape))


def _value_bound(tt: TreeTensor, pooling: str, templates: NDArray[Any] | None) -> int:
    """A rigorous bound (Python integer) on every intermediate and output value."""
    tree = tt.tree
    feats = np.eye(tt.in_dim, dtype=np.int64) if templates is None else np.asarray(templates)
    row = int(np.abs(feats).max())
    bound: dict[int, int] = {}
    for i in range(tree.num_leaves):
        col = int(np.abs(tt.leaf_weights[i]).sum(axis=0).max())
        bound[i] = row * col
    for v in tree.internal_nodes:
        kids = [bound.pop(c) for c in tree.children(v)]
        pooled = max(kids) if pooling == "max" else sum(kids)
        if pooling == "product":
            pooled = math.prod(kids)
        col = int(np.abs(tt.node_weights[v]).sum(axis=0).max())
        bound[v] = max(pooled, pooled * col)
    return bound[tree.root]


def grid_tensor_exact(
    tt: TreeTensor, pooling: Pooling, templates: NDArray[Any] | None = None
) -> tuple[NDArray[np.int64], int]:
    """Exact grid tensor of integer weights: ``(G, scale)`` with the true grid tensor ``G / scale``.

    ``pooling`` is ``"max"`` (scale 1) or ``"average"`` (pooled by sums; ``scale`` is the
    product of the levels' window sizes).  ``templates`` (``M' x M`` integers) default to
    the one-hot points, for which the representation matrix ``F`` is the identity.

    Raises
    ------
    ValueError
        For float weights, product pooling (use ``TreeTensor.matricization_rank(I,
        method="modular")``: products overflow), a tree that is not levelled, or
        values that could reach ``2^62`` (bounded before any work).
    """
    if not isinstance(tt, TreeTensor):
        raise TypeError(f"tt: expected a TreeTensor, got {type(tt).__name__}")
    if not tt.is_integer:
        raise ValueError("tt: expected integer weights (draw_weights, or integer=True)")
    if pooling not in ("max", "average"):
        raise ValueError(
            f"pooling: the exact grid tensor is for 'max' or 'average', got {pooling!r}; "
            "product pooling is certified modulo a prime (TreeTensor.matricization_rank)"
        )
    if templates is not None and np.asarray(templates).dtype.kind not in "iu":
        raise TypeError("templates: expected integer template points for the exact grid tensor")
    arities = level_arities(tt.tree)
    if _value_bound(tt, pooling, templates) >= INT_LIMIT:
        raise ValueError(
            "tt: the network's values could reach 2^62 and overflow int64; use smaller integer "
            "weights (draw_weights with fewer bits)"
        )
    scale = math.prod(arities) if pooling == "average" else 1
    return _evaluate(tt, pooling, templates, exact=True), scale


def grid_tensor_float(
    tt: TreeTensor, pooling: Pooling, templates: NDArray[Any] | None = None
) -> NDArray[np.float64]:
    """Float64 grid tensor of the network (any pooling, any tree); see :func:`grid_tensor_exact`."""
    if not isinstance(tt, TreeTensor):
        raise TypeError(f"tt: expected a TreeTensor, got {type(tt).__name__}")
    feats = None if templates is None else np.asarray(templates, dtype=np.float64)
    return _evaluate(tt, pooling, feats, exact=False)


def grid_tensor_mod(
    tt: TreeTensor, prime: int, templates: NDArray[Any] | None = None
) -> NDArray[np.int64]:
    """Grid tensor of the product-pooling network (the ConvAC) modulo ``prime`` (< 2^28).

    With one-hot templates it is the coefficient tensor ``A`` of the ConvAC modulo the
    prime; the rank of a matricization modulo the prime bounds the rational rank from
    below.
    """
    if not isinstance(tt, TreeTensor) or not tt.is_integer:
        raise TypeError("tt: expected a TreeTensor with integer weights")
    p = check_int(prime, "prime", minimum=3, maximum=2**28 - 1, fix="a prime below 2^28")
    if not is_prime(p):
        raise ValueError(f"prime: {p} is not prime")
    widest = max([tt.in_dim] + [max(w.shape) for w in tt.node_weights.values()])
    if widest >= 128:
        raise ValueError(f"tt: widths up to 127 are reduced exactly in int64, got {widest}")
    if templates is not None and np.asarray(templates).dtype.kind not in "iu":
        raise TypeError("templates: expected integer template points")
    return _evaluate(tt, "product", templates, exact=True, modulus=p)


# ------------------------------------------------------------------ unit measurements
@contextlib.contextmanager
def serial() -> Iterator[None]:
    """Run BLAS and torch on one thread: the units' matrices are small, and on a loaded
    machine a second thread waits for a busy core (10-50x slower, measured on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits

            limit: Any = threadpool_limits(limits=1, user_api="blas")
        except Exception:  # threadpoolctl missing: run as configured
            limit = contextlib.nullcontext()
        with limit:
            yield
    finally:
        torch.set_num_threads(before)


def shallow_ceiling(n: int, m: int, z: int) -> int:
    """Largest odd/even rank of a shallow ReLU + max net of width ``z`` (M one-hot templates).

    Each hidden channel ``max_i relu(w_i[d_i])`` equals ``max(u(d_odd), v(d_even))`` where
    ``u`` takes at most ``M * N/2`` values, so its matricization has at most that many
    distinct rows; ``z`` channels add up to at most ``z M N/2``.
    """
    return min(z * m * (n // 2), m ** (n // 2))


def run_deep(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Draws ``start .. stop - 1`` of one deep family: exact odd/even ranks of three poolings."""
    n, m, width, init = int(config["n"]), int(config["m"]), int(config["width"]), config["init"]
    cap = int(config["cap"])
    tree = ModeTree.balanced(n)
    widths = tree.resolve_ranks(width)
    I = odd_even(n)
    bits = quantization_bits(tree, widths)
    generic = int(min_cut(tree, width, I, in_dim=m).value)
    rows = []
    for d in range(int(config["start"]), int(config["stop"])):
        s = derive_seed(seed, "draw", d)
        tt = draw_weights(tree, m, width, init, s, bits)
        row: dict[str, Any] = {"draw": d, "seed": s}
        for pooling in ("max", "average"):
            grid, _ = grid_tensor_exact(tt, pooling)
            mat = matricize(grid, I)
            cert = certified_rank(mat, cap).to_json()
            cert["float_rank"], cert["gap"] = float_rank(mat)
            row[pooling] = cert
        rank = rank_mod(matricize(grid_tensor_mod(tt, CONVAC_PRIME), I), CONVAC_PRIME)
        short = rank < generic  # a priori explanation of a short draw: a singular factor
        row["product"] = {"rank": rank, "singular_factors": singular_factors(tt) if short else 0}
        rows.append(row)
    z = parameter_count(tree, m, widths) // (n * m + 1)
    return {
        "part": "deep",
        "n": n,
        "m": m,
        "width": width,
        "init": init,
        "bits": bits,
        "generic": generic,
        "cap": cap,
        "params": parameter_count(tree, m, widths),
        "shallow_width_equal_params": z,
        "shallow_ceiling": shallow_ceiling(n, m, z),
        "avg_bound": 2 * m ** (n // 4),
        "draws": rows,
    }


def run_library(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The same float weights in dltheory.ConvAC and in the evaluator: their grid tensors."""
    import torch

    from ..nets import ConvAC

    n, m, width = int(config["n"]), int(config["m"]), int(config["width"])
    tree = ModeTree.balanced(n)
    ref = ConvAC(
        tree, in_dim=m, ranks=width, out_dim=1, pooling="product", dtype=torch.float64, seed=seed
    )
    tt = ref.coefficient_tensor(0)
    diffs = {}
    for pooling in ("max", "average", "product"):
        net = ConvAC(
            tree,
            in_dim=m,
            ranks=width,
            out_dim=1,
            pooling=pooling,
            dtype=torch.float64,
            seed=seed,
        )
        net.load_state_dict(ref.state_dict())
        lib = net.grid_tensor(np.eye(m))
        ours = grid_tensor_float(tt, pooling)
        diffs[pooling] = float(np.abs(lib - ours).max() / max(float(np.abs(ours).max()), 1e-300))
    return {"part": "library", "n": n, "m": m, "width": width, "rel_diff": diffs}


def run_shallow(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Shallow nets of width K (flat tree, normal init): odd/even ranks for max and average."""
    n, m, k = int(config["n"]), int(config["m"]), int(config["K"])
    tree = ModeTree.flat(n)
    bits = quantization_bits(tree, tree.resolve_ranks(k))
    I = odd_even(n)
    rows = []
    for j in range(int(config["draws"])):
        tt = draw_weights(tree, m, k, "normal", derive_seed(seed, "draw", j), bits)
        row: dict[str, Any] = {}
        for pooling in ("max", "average"):
            grid, _ = grid_tensor_exact(tt, pooling)
            cap = 2 if pooling == "average" else 0  # the additive ceiling is certified
            row[pooling] = certified_rank(matricize(grid, I), cap).to_json()
        rows.append(row)
    return {
        "part": "shallow",
        "n": n,
        "m": m,
        "K": k,
        "bits": bits,
        "bound": shallow_ceiling(n, m, k),
        "full": m ** (n // 2),
        "draws": rows,
    }


def run_span(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Span of the K hidden channels' grid tensors, and the fit of a random target."""
    n, m, k = int(config["n"]), int(config["m"]), int(config["K"])
    tree = ModeTree.flat(n)
    bits = quantization_bits(tree, tree.resolve_ranks(k))
    tt = draw_weights(tree, m, k, "normal", seed, bits, out_dim=k)
    nodes = dict(tt.node_weights)
    nodes[tree.root] = np.eye(k, dtype=np.int64)  # the outputs are the hidden channels
    tt = TreeTensor(tree, tt.leaf_weights, nodes)
    target = np.random.default_rng(derive_seed(seed, "target")).standard_normal(m**n)
    additive = 1 + n * (m - 1)
    out: dict[str, Any] = {
        "part": "span",
        "n": n,
        "m": m,
        "K": k,
        "grid": m**n,
        "additive_dim": additive,
    }
    for pooling in ("max", "average"):
        grid, _ = grid_tensor_exact(tt, pooling)
        feats = grid.reshape(m**n, k)
        cert = certified_rank(feats, additive).to_json()
        f = feats.astype(np.float64)
        coef, *_ = np.linalg.lstsq(f, target, rcond=None)
        cert["residual"] = float(np.linalg.norm(f @ coef - target) / np.linalg.norm(target))
        out[pooling] = cert
    return out
