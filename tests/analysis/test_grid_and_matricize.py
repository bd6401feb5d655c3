from __future__ import annotations

import numpy as np
import pytest

import dltheory as dt


def test_matricize_layout() -> None:
    a = np.arange(24).reshape(2, 3, 4)
    m = dt.matricize(a, [1])
    assert m.shape == (3, 8)
    assert m[2, 5] == a[1, 2, 1]  # columns: modes (0, 2) row-major
    np.testing.assert_array_equal(dt.matricize(a, [2, 0]), a.transpose(0, 2, 1).reshape(8, 3))
    with pytest.raises(ValueError, match="I: modes \\[3\\]"):
        dt.matricize(a, [3])


def test_grid_tensor_of_multilinear_net_is_the_coefficient_tensor() -> None:
    """For a product-pooling net with identity representation and one-hot templates,
    the grid tensor equals the coefficient tensor."""
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), in_dim=3, ranks=2, seed=0)
    g = dt.grid_tensor(lambda x: tt.evaluate(x)[:, 0], np.eye(3), 4)
    np.testing.assert_allclose(g, tt.to_dense(), rtol=1e-12)


def test_grid_tensor_of_relu_max_net_and_torch_module() -> None:
    import torch

    class MaxNet(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x.sum(-1)).amax(dim=1)

    templates = np.array([[-1.0], [0.5], [2.0]])
    g = dt.grid_tensor(MaxNet(), templates, 3)
    assert g.shape == (3, 3, 3)
    assert g[0, 0, 0] == 0.0 and g[0, 1, 2] == 2.0 and g[1, 0, 0] == 0.5
    # max pooling of a ReLU grid: a 'max' tensor has low but not unit rank
    assert np.linalg.matrix_rank(dt.matricize(g, [0])) == 3


def test_grid_tensor_bad_input() -> None:
    with pytest.raises(TypeError, match="f:"):
        dt.grid_tensor(3, np.eye(2), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="templates"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.full((2, 1), np.nan), 2)
    with pytest.raises(ValueError, match="num_positions"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.eye(2), 0)
    with pytest.raises(ValueError, match="max_entries"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.eye(4), 20)
    with pytest.raises(ValueError, match="f: returned 1 values"):
        dt.grid_tensor(lambda x: np.zeros(1), np.eye(2), 2)
