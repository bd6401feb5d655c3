"""Two synthetic sequence tasks whose labels need short- or long-range correlations by construction.

They stand in for the image tasks of Levine, Yakira, Cohen & Shashua, "Deep
Learning and Quantum Entanglement: Fundamental Connections with Implications
to Network Design", ICLR 2018 (Sec. 6), which are not available offline.
Both draw sequences of ``n`` binary tokens and give balanced binary labels:

* ``"local"``: the sequence is cut into blocks of ``block`` consecutive
  positions; each block is, independently with probability 1/2, a palindrome
  (its second half the mirror image of its first), else a uniformly random
  non-palindrome.  Label 1 iff more than half of the blocks are palindromes;
  sequences with exactly half are dropped.  The label depends on the inputs
  only through interactions *inside* blocks: permuting the blocks, or any
  change that keeps every block's palindrome status, keeps it.
* ``"long"``: two blocks of ``block`` random tokens, the first block and the
  one starting at ``n / 2``; with probability 1/2 the second is a copy of the
  first (else it is redrawn until it differs).  Label 1 iff it is a copy.  The
  other positions hold token 0 (``background="zeros"``) or random tokens
  (``"noise"``).  The label depends on the inputs only through pairs of
  positions at distance ``n / 2``, which the left/right partition separates.

For a ConvAC over ``ModeTree.balanced(n)`` the theory says what each needs
(``n = 64``, ``block = 8``): the palindrome of a block compares its two
halves, a permutation of the 16 states of a half, so the local task needs
width >= 16 at the levels inside a block (early levels: blocks of 4 and 8)
and 2 above (a sum); the long task is decided (up to 1/255 of the
non-copies) by the agreement count of the 8 position pairs, whose exact
form passes ``1 + (positions below)`` channels upwards: >= 3, 5, 9 at the
pairs, blocks of 4 and of 8 and >= 9 at every level above (deep levels);
with fewer channels at the top the copies can only be told by parities of
subsets (rank 2 per parity).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..validation import MAX_ENTRIES, check_choice, check_int, check_seed, check_size
from .base import Dataset

__all__ = [
    "BACKGROUNDS",
    "MAX_RANGE_EXAMPLES",
    "RANGE_TASKS",
    "match_count",
    "load_range_task",
    "palindrome_count",
]

#: The two tasks: labels from interactions inside blocks, or between the two halves.
RANGE_TASKS: tuple[str, ...] = ("local", "long")
#: What fills the long task's positions outside the two compared blocks.
BACKGROUNDS: tuple[str, ...] = ("zeros", "noise")
#: Most examples one call draws (tokens are generated 4x over to replace dropped ties).
MAX_RANGE_EXAMPLES = 10_000_000


def palindrome_count(x: np.ndarray[Any, Any], block: int) -> np.ndarray[Any, Any]:
    """Number of blocks of ``block`` consecutive positions that are palindromes, per row."""
    n = x.shape[1]
    b = x.reshape(x.shape[0], n // block, block)
    return np.all(b == b[:, :, ::-1], axis=2).sum(axis=1)


def match_count(x: np.ndarray[Any, Any], block: int) -> np.ndarray[Any, Any]:
    """1 where the first ``block`` positions recur unchanged ``n/2`` positions later, else 0."""
    h = x.shape[1] // 2
    return np.all(x[:, :block] == x[:, h : h + block], axis=1).astype(np.int64)


def _local(rng: np.random.Generator, m: int, n: int, block: int) -> tuple[Any, Any]:
    half = block // 2
    k = n // block
    first = rng.integers(0, 2, size=(m, k, half))
    pal = rng.random((m, k)) < 0.5
    second = rng.integers(0, 2, size=(m, k, block - half))
    mirror = first[:, :, ::-1]  # block is even (load_range_task checks it)
    # non-palindromes: redraw the second half until it is not the mirror (rejection)
    same = np.all(second == mirror, axis=2) & ~pal
    while same.any():
        second[same] = rng.integers(0, 2, size=(int(same.sum()), block - half))
        same = np.all(second == mirror, axis=2) & ~pal
    second = np.where(pal[:, :, None], mirror, second)
    x = np.concatenate([first, second], axis=2).reshape(m, n)
    count = palindrome_count(x, block)
    return x, np.sign(count * 2 - k)


def _long(
    rng: np.random.Generator, m: int, n: int, block: int, background: str = "zeros"
) -> tuple[Any, Any]:
    h = n // 2
    if background == "noise":
        x = rng.integers(0, 2, size=(m, n))
    else:
        x = np.zeros((m, n), dtype=np.int64)
        x[:, :block] = rng.integers(0, 2, size=(m, block))
        x[:, h : h + block] = rng.integers(0, 2, size=(m, block))
    match = rng.random(m) < 0.5
    same = np.all(x[:, h : h + block] == x[:, :block], axis=1) & ~match
    while same.any():  # non-matches: redraw until the block differs from its partner
        x[same, h : h + block] = rng.integers(0, 2, size=(int(same.sum()), block))
        same = np.all(x[:, h : h + block] == x[:, :block], axis=1) & ~match
    x[match, h : h + block] = x[match, :block]
    return x, np.where(match_count(x, block) > 0, 1, -1)


def _draw(
    task: str, count: int, n: int, block: int, rng: np.random.Generator, background: str
) -> tuple[Any, Any]:
    """``count`` examples, half of each class, in the order drawn (ties dropped)."""
    per = count // 2
    xs: list[Any] = []
    got = {-1: 0, 1: 0}
    while min(got.values()) < per:
        m = max(64, 2 * count)
        x, s = _local(rng, m, n, block) if task == "local" else _long(rng, m, n, block, background)
        keep = np.zeros(m, dtype=bool)
        for c in (-1, 1):
            idx = np.flatnonzero(s == c)[: max(0, per - got[c])]
            keep[idx] = True
            got[c] += len(idx)
        xs.append((x[keep], s[keep]))
    x = np.concatenate([a for a, _ in xs])
    s = np.concatenate([b for _, b in xs])
    return x, (s > 0).astype(np.int64)


def load_range_task(
    task: str,
    n: int = 64,
    num_train: int = 20_000,
    num_test: int = 4_000,
    seed: int = 0,
    block: int = 8,
    background: str = "zeros",
) -> Dataset:
    """The ``"local"`` (palindromic blocks) or ``"long"`` (a block copied n/2 later) task.

    Parameters
    ----------
    task : {"local", "long"}
    n : int, optional
        Sequence length, a multiple of ``block`` and of 4, from 8 to 4096.
    num_train, num_test : int, optional
        Examples in each part (even, at least 2; exactly half of each class).
    seed : int, optional
        Seed in ``[0, 2**63)``; the same arguments give the same data; the
        test part is drawn after the training part from the same stream.
    block : int, optional
        Block length (even, 2 to ``n / 2``; default 8): the palindromes of the
        local task, the copied block of the long one.
    background : {"zeros", "noise"}, optional
        The long task's other positions: token 0 (default), or uniformly
        random tokens (``width-design`` v1; no network we tried learned that
        variant, see the claim's history).  Ignored by the local task.

    Returns
    -------
    Dataset
        ``x`` float32 ``(num, n, 1)`` with tokens 0 and 1 (one feature per
        position, as :class:`~dltheory.nets.ConvAC` with a one-hot
        representation takes them); ``y`` int64 in ``{0, 1}``.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, before anything is drawn.

    Examples
    --------
    >>> ds = load_range_task("long", n=16, num_train=10, num_test=4)
    >>> tuple(ds.x_train.shape), int(ds.y_train.sum())
    ((10, 16, 1), 5)
    """
    t = check_choice(task, "task", RANGE_TASKS)
    length = check_int(n, "n", minimum=8, maximum=4096)
    b = check_int(block, "block", minimum=2, maximum=length)
    if b % 2:
        raise ValueError(
            f"block: expected an even block length (a palindrome of two halves), got {b}"
        )
    step = math.lcm(b, 4)
    if length % step:
        raise ValueError(
            f"n: expected a multiple of block={b} and of 4, got {length}; "
            f"pass n={max(step, length // step * step)}"
        )
    if length // b < 2:
        raise ValueError(
            f"block: the {t} task needs at least 2 blocks, got n={length}, block={b}; "
            "lower block or raise n"
        )
    sizes = {}
    for name, value in (("num_train", num_train), ("num_test", num_test)):
        v = check_int(value, name, minimum=2, maximum=MAX_RANGE_EXAMPLES)
        if v % 2:
            raise ValueError(f"{name}: expected an even number (half of each class), got {v}")
        sizes[name] = v
    total = sizes["num_train"] + sizes["num_test"]
    check_size(
        4 * total * length,
        "num_train",
        limit=MAX_ENTRIES,
        what=f"the tokens drawn for {total} sequences of {length}",
        fix="lower num_train, num_test or n",
    )
    bg = check_choice(background, "background", BACKGROUNDS)
    rng = np.random.default_rng(check_seed(seed))
    parts = [_draw(t, sizes[k], length, b, rng, bg) for k in ("num_train", "num_test")]
    (xtr, ytr), (xte, yte) = parts

    def tensor(x: Any) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32)).unsqueeze(-1)

    what = (
        f"blocks of {b} palindromic w.p. 1/2; label: more than half are"
        if t == "local"
        else f"the first {b} tokens copied {length // 2} positions later w.p. 1/2, other "
        f"positions {'0' if bg == 'zeros' else 'random'}; label: copied"
    )
    return Dataset(
        f"range-{t}",
        tensor(xtr),
        torch.from_numpy(ytr),
        tensor(xte),
        torch.from_numpy(yte),
        2,
        f"synthetic {t}-range task (dltheory.data.ranges): {length} binary tokens, {what}",
    )
