"""grid_tensor at its edges: the smallest valid inputs, batching, dtypes, modules, messages."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import dltheory as dt
from dltheory.analysis import grid_tensor


def _sum(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=(1, 2))


def test_smallest_valid_sizes() -> None:
    # one template, one position, one entry allowed
    g = grid_tensor(_sum, [[2.5]], 1, max_entries=1)
    assert g.shape == (1,) and g[0] == 2.5
    g = grid_tensor(_sum, [[1.0], [3.0]], 1)
    np.testing.assert_array_equal(g, [1.0, 3.0])
    with pytest.raises(ValueError, match=r"^max_entries: "):
        grid_tensor(_sum, [[1.0], [3.0]], 1, max_entries=0)
    with pytest.raises(ValueError, match=r"^num_positions: "):
        grid_tensor(_sum, [[1.0]], 0)


def test_templates_shape_messages() -> None:
    for bad, shape in ((np.zeros((0, 2)), "(0, 2)"), (np.zeros((2, 0)), "(2, 0)")):
        with pytest.raises(ValueError, match=re.escape(f"got {shape}")):
            grid_tensor(_sum, bad, 2)
    with pytest.raises(ValueError, match=r"^templates: expected shape \(M, s\), got \(1, 1, 1\)$"):
        grid_tensor(_sum, np.zeros((1, 1, 1)), 2)
    with pytest.raises(ValueError, match=r"^templates: contains NaN or infinite values$"):
        grid_tensor(_sum, [[np.nan]], 2)
    with pytest.raises(TypeError, match=r"^f: expected a callable, got int$"):
        grid_tensor(3, [[1.0]], 2)  # type: ignore[arg-type]


def test_size_refusal_names_the_points_and_the_fix() -> None:
    with pytest.raises(ValueError) as info:
        grid_tensor(_sum, np.eye(4), 13, max_entries=10**6)
    text = str(info.value)
    assert text.startswith("max_entries: ")
    assert "the grid tensor's 4^13 evaluation points" in text
    assert "use fewer templates or positions" in text


def test_batches_default_to_4096_points() -> None:
    sizes: list[int] = []

    def f(x: np.ndarray) -> np.ndarray:
        sizes.append(x.shape[0])
        return x.sum(axis=(1, 2))

    g = grid_tensor(f, [[0.0], [1.0]], 13)  # 8192 points
    assert sizes == [4096, 4096]
    assert g.shape == (2,) * 13 and g[(1,) * 13] == 13.0
    sizes.clear()
    grid_tensor(f, [[0.0], [1.0]], 3, batch_size=3)
    assert sizes == [3, 3, 2]


def test_bad_outputs_are_named() -> None:
    with pytest.raises(ValueError, match=r"^f: returned 1 values for a batch of 4 inputs$"):
        grid_tensor(lambda x: np.zeros(1), [[0.0], [1.0]], 2)
    with pytest.raises(
        ValueError, match=r"^f: returned NaN or infinite values on the template grid$"
    ):
        grid_tensor(lambda x: np.full(x.shape[0], np.inf), [[0.0], [1.0]], 2)


def test_several_outputs_and_float32_results() -> None:
    g = grid_tensor(lambda x: np.stack([x[:, 0, 0], -x[:, 1, 0]], 1), [[0.0], [1.0]], 2)
    assert g.shape == (2, 2, 2)
    np.testing.assert_array_equal(g[1, 0], [1.0, 0.0])
    np.testing.assert_array_equal(g[0, 1], [0.0, -1.0])
    g32 = grid_tensor(lambda x: (x.sum(axis=(1, 2)) / 3).astype(np.float32), [[0.0], [1.0]], 2)
    assert g32.dtype == np.float64


def test_modules_with_gradients_and_their_dtype() -> None:
    """A trainable module (parameters requiring grad) is evaluated without autograd, in its own
    dtype, and the values come back as float64 NumPy (a float32 net stays float32 inside)."""
    seen: list[torch.dtype] = []

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([2.0]))  # float32, requires grad

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.dtype)
            return (x.sum(dim=(1, 2)) * self.w).float()

    g = grid_tensor(Net(), [[0.0], [1.0]], 2)
    assert seen == [torch.float32] and g.dtype == np.float64
    np.testing.assert_array_equal(g, [[0.0, 2.0], [2.0, 4.0]])

    class Free(torch.nn.Module):  # no parameters: float64 inputs
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.dtype)
            return x.sum(dim=(1, 2)).requires_grad_()

    seen.clear()
    np.testing.assert_array_equal(grid_tensor(Free(), [[0.0], [1.0]], 1), [0.0, 1.0])
    assert seen == [torch.float64]
    # a plain function returning a tensor that requires grad is detached too
    w = torch.tensor(3.0, requires_grad=True)
    g = grid_tensor(lambda x: torch.as_tensor(x).sum(dim=(1, 2)) * w, [[0.0], [1.0]], 1)
    np.testing.assert_array_equal(g, [0.0, 3.0])


def test_convac_is_evaluated_through_its_exact_scores() -> None:
    tree = dt.ModeTree.balanced(4)
    net = dt.ConvAC(tree, in_dim=2, ranks=2, out_dim=1, representation="identity").double()
    g = grid_tensor(net, np.eye(2), 4)
    np.testing.assert_allclose(g, net.coefficient_tensor(0).to_dense(), rtol=1e-12, atol=1e-14)
