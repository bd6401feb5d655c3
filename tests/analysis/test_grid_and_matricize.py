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


def _brute_grid(f, templates: np.ndarray, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Evaluate ``f`` one grid point at a time (the definition)."""
    import itertools

    m = templates.shape[0]
    out = np.empty((m,) * n)
    for idx in itertools.product(range(m), repeat=n):
        out[idx] = float(np.asarray(f(templates[list(idx)][None]))[0])
    return out


@pytest.mark.parametrize("batch_size", [1, 5, 7, 4096])
def test_grid_tensor_entries_follow_the_template_indices(batch_size: int) -> None:
    """Entry ``[d_1..d_N]`` is ``f`` on templates ``d_1..d_N`` in position order, any batching."""
    rng = np.random.default_rng(3)
    templates = rng.standard_normal((3, 2))
    weights = rng.standard_normal((4, 2))

    def f(x: np.ndarray) -> np.ndarray:  # not symmetric in the positions
        return np.tanh((x * weights).sum(-1)) @ np.array([1.0, -2.0, 3.0, 0.5])

    g = dt.grid_tensor(f, templates, 4, batch_size=batch_size)
    assert g.shape == (3, 3, 3, 3) and g.dtype == np.float64
    np.testing.assert_allclose(g, _brute_grid(f, templates, 4), rtol=1e-13, atol=1e-13)


def test_grid_tensor_several_outputs_and_one_dimensional_templates() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        return np.stack([x[:, 0, 0] - x[:, 1, 0], x[:, 0, 0] * x[:, 1, 0], x.sum((1, 2))], axis=1)

    g = dt.grid_tensor(f, np.array([1.0, 2.0]), 2)  # 1-D templates are (M, 1)
    assert g.shape == (2, 2, 3)
    assert g[0, 1].tolist() == [-1.0, 2.0, 3.0] and g[1, 0].tolist() == [1.0, 2.0, 3.0]
    single = dt.grid_tensor(lambda x: f(x)[:, :1], np.array([1.0, 2.0]), 2)
    assert single.shape == (2, 2)  # a single output has no trailing axis
    np.testing.assert_array_equal(single, g[..., 0])


def test_grid_tensor_of_a_module_uses_its_dtype_and_its_scores() -> None:
    import torch

    seen: list[torch.dtype] = []

    class Net(torch.nn.Module):
        def __init__(self, dtype: torch.dtype) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1, dtype=dtype))

        def scores(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.dtype)
            return (x.sum((1, 2)) * self.w) + 1.0

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # the training logits: not used
            return torch.zeros(x.shape[0])

    templates = np.array([[0.25], [1.5]])
    for dtype in (torch.float32, torch.float64):
        g = dt.grid_tensor(Net(dtype), templates, 2)
        assert seen[-1] == dtype and g.dtype == np.float64
        np.testing.assert_allclose(g, [[1.5, 2.75], [2.75, 4.0]])

    class Free(torch.nn.Module):  # no parameters: evaluated in float64
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.dtype)
            return x.sum((1, 2))

    assert dt.grid_tensor(Free(), np.array([[1e-300], [1.0]]), 2)[0, 0] == 2e-300
    assert seen[-1] == torch.float64


def test_grid_tensor_refuses_non_finite_values_and_oversized_grids() -> None:
    with pytest.raises(ValueError, match="f: returned NaN or infinite"):
        dt.grid_tensor(
            lambda x: np.where(x.sum((1, 2)) == 0, np.inf, 1.0), np.array([[-1.0], [1.0]]), 2
        )
    with pytest.raises(ValueError, match="templates: expected shape"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.ones((2, 2, 2)), 2)
    with pytest.raises(TypeError, match="templates: expected real"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.eye(2) * 1j, 2)
    with pytest.raises(TypeError, match="templates: expected numbers"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.array([["a"], ["b"]]), 2)
    # exactly at the limit is fine (M^N * N entries), one more is refused
    g = dt.grid_tensor(lambda x: x.sum((1, 2)), np.eye(2), 3, max_entries=2**3 * 3)
    assert g.shape == (2, 2, 2)
    with pytest.raises(ValueError, match="max_entries"):
        dt.grid_tensor(lambda x: x.sum((1, 2)), np.eye(2), 3, max_entries=2**3 * 3 - 1)
