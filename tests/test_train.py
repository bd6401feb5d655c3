from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from dltheory.data import Dataset, load_digits
from dltheory.train import OPTIMIZERS, SCHEDULES, TrainResult, evaluate, train


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one thread is fastest, and immune to a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits()


def mlp(seed: int = 0, width: int = 64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _strip_time(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


class NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x.flatten(1)) * float("nan")


def test_mlp_learns_digits(digits: Dataset) -> None:
    result = train(mlp(), digits, epochs=10, lr=1e-2, progress=False)
    assert isinstance(result, TrainResult)
    assert result.stopped is None and result.epochs_completed == 10
    assert result.final_test_acc > 0.9
    assert result.seconds < 20  # well under a second when the machine is idle
    assert [h["epoch"] for h in result.history] == list(range(1, 11))
    for h in result.history:
        assert set(h) == {"epoch", "train_loss", "train_acc", "test_acc", "lr", "seconds"}
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["test_acc"] <= 1 and h["seconds"] > 0
    assert result.final_test_acc == result.history[-1]["test_acc"]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    d = result.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["stopped"] is None and len(d["history"]) == 10


def test_same_seed_same_numbers(digits: Dataset) -> None:
    m1, m2, m3 = mlp(), mlp(), mlp()
    r1 = train(m1, digits, epochs=3, progress=False, schedule="cosine", seed=4)
    r2 = train(m2, digits, epochs=3, progress=False, schedule="cosine", seed=4)
    r3 = train(m3, digits, epochs=3, progress=False, schedule="cosine", seed=5)
    assert _strip_time(r1.history) == _strip_time(r2.history)
    assert r1.final_test_acc == r2.final_test_acc
    assert all(torch.equal(a, b) for a, b in zip(_params(m1), _params(m2), strict=True))
    # another seed shuffles differently
    assert _strip_time(r1.history) != _strip_time(r3.history)


def test_dropout_is_seeded(digits: Dataset) -> None:
    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Dropout(0.5), nn.Linear(32, 10))

    torch.manual_seed(123)  # global state before the call must not matter
    r1 = train(net(), digits, epochs=1, progress=False)
    torch.manual_seed(456)
    r2 = train(net(), digits, epochs=1, progress=False)
    assert _strip_time(r1.history) == _strip_time(r2.history)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains(digits: Dataset, name: str) -> None:
    model = mlp()
    before = _params(model)
    lr = 0.05 if name in ("sgd", "adagrad") else 3e-3
    result = train(model, digits, epochs=2, optimizer=name, lr=lr, progress=False)
    assert result.stopped is None
    assert result.history[-1]["train_loss"] < math.log(10)
    assert result.final_test_acc > 0.5
    assert not any(torch.equal(a, b) for a, b in zip(before, _params(model), strict=True))


def test_schedules(digits: Dataset) -> None:
    r = train(mlp(), digits, epochs=6, lr=0.01, schedule="step", progress=False)
    assert [h["lr"] for h in r.history] == pytest.approx([0.01, 0.01, 5e-3, 5e-3, 2.5e-3, 2.5e-3])
    r = train(mlp(), digits, epochs=3, lr=0.01, schedule="cosine", progress=False)
    lrs = [h["lr"] for h in r.history]
    assert lrs[0] < 0.01 and lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-4
    r = train(mlp(), digits, epochs=2, lr=0.01, schedule=None, progress=False)
    assert [h["lr"] for h in r.history] == [0.01, 0.01]
    assert SCHEDULES == ("cosine", "step")


def test_unknown_names_rejected(digits: Dataset) -> None:
    with pytest.raises(ValueError, match="^optimizer: expected one of 'sgd', 'adam', .*'lbfgs'"):
        train(mlp(), digits, optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="^schedule: expected one of 'cosine', 'step', .*'linear'"):
        train(mlp(), digits, schedule="linear", progress=False)
    with pytest.raises(ValueError, match="^optimizer: .* got 'ADAM'"):  # names are exact
        train(mlp(), digits, optimizer="ADAM", progress=False)


@pytest.mark.parametrize(
    ("kwargs", "exc", "prefix"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1e-3}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
        ({"time_limit": 0}, ValueError, "time_limit"),
        ({"eval_batch_size": 0}, ValueError, "eval_batch_size"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_arguments(digits: Dataset, kwargs: dict, exc: type, prefix: str) -> None:
    with pytest.raises(exc, match=f"^{prefix}: "):
        train(mlp(), digits, progress=False, **kwargs)


def test_nan_inputs_rejected_before_any_step(digits: Dataset) -> None:
    x = digits.x_train.clone()
    x[3, 0, 2, 2] = float("nan")
    model = mlp()
    before = _params(model)
    with pytest.raises(ValueError, match="^data.x_train: has NaN or infinite values"):
        train(model, dataclasses.replace(digits, x_train=x), progress=False)
    xt = digits.x_test.clone()
    xt[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="^data.x_test: has NaN or infinite values"):
        train(model, dataclasses.replace(digits, x_test=xt), progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, _params(model), strict=True))


def test_output_shape_checked(digits: Dataset) -> None:
    wrong_classes = nn.Sequential(nn.Flatten(), nn.Linear(64, 7))
    with pytest.raises(ValueError, match=r"^model: expected logits of shape .* = \(64, 10\)"):
        train(wrong_classes, digits, progress=False)
    with pytest.raises(ValueError, match=r"^model: failed on an input batch of shape \(64, 1, 8"):
        train(nn.Linear(64, 10), digits, progress=False)  # forgot to flatten
    with pytest.raises(ValueError, match="^model: has no trainable parameters"):
        train(nn.Flatten(), digits, progress=False)
    with pytest.raises(TypeError, match="^data: "):
        train(mlp(), (digits.x_train, digits.y_train), progress=False)  # type: ignore[arg-type]


def test_nan_loss_stops_with_warning(digits: Dataset) -> None:
    model = NaNModel()
    before = _params(model)
    with pytest.warns(RuntimeWarning, match="non-finite loss at epoch 1, step 1: lower the"):
        result = train(model, digits, epochs=3, progress=False)
    assert result.stopped is not None
    assert result.stopped.startswith("non-finite loss at epoch 1, step 1: lower the learning rate")
    assert result.history == [] and math.isnan(result.final_test_acc)
    # no step was taken on the non-finite loss
    assert all(torch.equal(a, b) for a, b in zip(before, _params(model), strict=True))


def test_divergent_learning_rate_stops(digits: Dataset) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(mlp(), digits, epochs=3, optimizer="sgd", lr=1e10, progress=False)
    assert result.stopped is not None and result.stopped.startswith("non-finite loss at epoch 1")
    assert "lr=1e+10" in result.stopped
    assert [str(w.message) for w in caught] == [result.stopped]
    assert [w.category for w in caught] == [RuntimeWarning]
    assert result.epochs_completed < 3


def test_time_limit(digits: Dataset) -> None:
    result = train(mlp(), digits, epochs=100_000, time_limit=0.3, progress=False)
    assert result.stopped is not None and result.stopped.startswith("time limit of 0.3 s")
    assert result.epochs_completed < 100_000
    assert result.seconds < 5  # the limit plus at most one step and one evaluation
    assert 0 <= result.final_test_acc <= 1


def test_evaluate(digits: Dataset) -> None:
    zero = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    nn.init.zeros_(zero[1].weight)
    nn.init.zeros_(zero[1].bias)
    loss, acc = evaluate(zero, digits.x_test, digits.y_test, batch_size=50)
    assert loss == pytest.approx(math.log(10))
    # argmax of equal logits is class 0
    assert acc == pytest.approx(float((digits.y_test == 0).float().mean()))
    model = mlp()
    model.train()
    a = evaluate(model, digits.x_test, digits.y_test, batch_size=7)
    b = evaluate(model, digits.x_test, digits.y_test, batch_size=1000)
    assert a[0] == pytest.approx(b[0], rel=1e-6) and a[1] == b[1]
    assert model.training  # mode restored
    with pytest.raises(ValueError, match="^batch_size: "):
        evaluate(model, digits.x_test, digits.y_test, batch_size=0)
    with pytest.raises(ValueError, match="^y: expected shape"):
        evaluate(model, digits.x_test, digits.y_test[:5])


def test_mode_device_and_progress_bar(digits: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    model = mlp()
    model.eval()
    result = train(model, digits, epochs=1, device="cpu", progress=True)
    assert not model.training  # the caller's mode is restored
    assert result.stopped is None
    out = capsys.readouterr().out
    assert "epoch 1/1" in out and "loss" in out and "acc" in out


def test_float64_model_on_float32_data(digits: Dataset) -> None:
    model = mlp().double()
    result = train(model, digits, epochs=2, lr=1e-2, progress=False)
    assert result.stopped is None and result.final_test_acc > 0.8
    loss, acc = evaluate(model, digits.x_test, digits.y_test)
    assert acc == result.final_test_acc and math.isfinite(loss)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(digits: Dataset) -> None:
    model = mlp()
    result = train(model, digits, epochs=3, lr=1e-2, progress=False, device="cuda")
    assert next(model.parameters()).is_cuda
    assert result.final_test_acc > 0.85


@pytest.mark.parametrize(
    ("kwargs", "exc", "prefix"),
    [
        ({"epochs": True}, TypeError, "epochs"),
        ({"epochs": 10**30}, ValueError, "epochs"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"lr": True}, TypeError, "lr"),
        ({"lr": 1j}, TypeError, "lr"),
        ({"lr": 1e300}, ValueError, "lr"),  # used to overflow inside the optimizer
        ({"weight_decay": 1e300}, ValueError, "weight_decay"),
        ({"time_limit": float("inf")}, ValueError, "time_limit"),
        ({"time_limit": "1"}, TypeError, "time_limit"),
        ({"optimizer": None}, TypeError, "optimizer"),
        ({"schedule": 3}, TypeError, "schedule"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"seed": 2**63}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"device": "tpu9"}, ValueError, "device"),
        ({"device": ""}, ValueError, "device"),
        ({"device": 3}, TypeError, "device"),
        ({"progress": "yes"}, TypeError, "progress"),
    ],
)
def test_more_bad_arguments_refused_before_any_step(
    digits: Dataset, kwargs: dict, exc: type, prefix: str
) -> None:
    model = mlp()
    before = _params(model)
    with pytest.raises(exc, match=f"^{prefix}: "):
        train(model, digits, **{"progress": False, **kwargs})
    assert all(torch.equal(a, b) for a, b in zip(before, _params(model), strict=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a CPU-only torch")
def test_cuda_refused_on_cpu_only_torch(digits: Dataset) -> None:
    with pytest.raises(ValueError, match="^device: expected an available device, got 'cuda'"):
        train(mlp(), digits, device="cuda", progress=False)


def test_evaluate_refuses_bad_input(digits: Dataset) -> None:
    model = mlp()
    x, y = digits.x_test[:10], digits.y_test[:10]
    with pytest.raises(TypeError, match="^x: expected real values"):
        evaluate(model, x.to(torch.complex64), y)
    with pytest.raises(ValueError, match="^x: has NaN or infinite values"):
        evaluate(model, torch.full_like(x, float("nan")), y)
    with pytest.raises(TypeError, match="^y: expected integer class labels"):
        evaluate(model, x, y.float())
    with pytest.raises(ValueError, match=r"^y: expected class labels in 0 \.\. 9"):
        evaluate(model, x, torch.full((10,), 10))
    with pytest.raises(ValueError, match="^y: expected class labels >= 0"):
        evaluate(model, x, torch.full((10,), -1))
    with pytest.raises(TypeError, match="^model: "):
        evaluate(None, x, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^x: the model failed on an input batch of shape"):
        evaluate(nn.Linear(64, 10), x, y)  # forgot to flatten
    # int32 labels are labels
    assert evaluate(model, x, y.int()) == evaluate(model, x, y)


def test_evaluate_reports_non_finite_logits(digits: Dataset) -> None:
    with pytest.warns(RuntimeWarning, match="^evaluate: the model's logits are NaN or infinite"):
        loss, acc = evaluate(NaNModel(), digits.x_test, digits.y_test)
    assert math.isnan(loss) and 0 <= acc <= 1


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_largest_rates_stop_cleanly_instead_of_overflowing(digits: Dataset, name: str) -> None:
    """lr = weight_decay = MAX_RATE: a non-finite loss and a warning, not torch's overflow."""
    from dltheory.train import MAX_RATE

    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        result = train(
            mlp(),
            digits,
            epochs=1,
            lr=MAX_RATE,
            weight_decay=MAX_RATE,
            optimizer=name,
            progress=False,
        )
    assert result.stopped is not None and result.stopped.startswith("non-finite loss")
