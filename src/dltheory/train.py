"""A small, seeded training loop for classifiers on an in-memory :class:`Dataset`.

:func:`train` fits any ``torch.nn.Module`` that maps a batch of inputs to
logits of shape ``(batch, num_classes)`` with the cross-entropy loss, and
returns a :class:`TrainResult` with a per-epoch history.  It is meant to be
reused unchanged by every experiment, so it is deliberately strict:

* inputs are checked to be finite and the model's output shape is checked on
  one batch *before* any step (a clear ``ValueError`` instead of a cryptic one
  deep inside the loss);
* a non-finite loss stops training with a warning and an explanation in
  ``TrainResult.stopped`` instead of silently producing NaN weights;
* the same ``seed`` gives the same numbers: the shuffling uses its own seeded
  ``torch.Generator`` and ``torch.manual_seed(seed)`` seeds anything random in
  the model (dropout, ...).  Seed the model's *initialization* yourself, when
  you build it.

Nothing assumes a GPU: training runs on the device of the model's parameters
(or on ``device``), and the data are moved there once.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data.base import Dataset, check_finite

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainResult", "evaluate", "train"]

_OptimizerFactory = Callable[[Iterable[torch.Tensor], float, float], torch.optim.Optimizer]

_OPTIMIZER_FACTORIES: dict[str, _OptimizerFactory] = {
    "sgd": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd),
    "adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd),
    "adamw": lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd),
    "rmsprop": lambda p, lr, wd: torch.optim.RMSprop(p, lr=lr, weight_decay=wd),
    "adagrad": lambda p, lr, wd: torch.optim.Adagrad(p, lr=lr, weight_decay=wd),
}

#: Optimizer names accepted by :func:`train` (``"sgd"`` uses momentum 0.9).
OPTIMIZERS: tuple[str, ...] = tuple(_OPTIMIZER_FACTORIES)

#: Learning-rate schedules accepted by :func:`train` besides ``None`` (constant):
#: ``"cosine"`` anneals to 0 over all steps, ``"step"`` halves the rate after
#: every ``ceil(epochs / 3)`` epochs.
SCHEDULES: tuple[str, ...] = ("cosine", "step")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    history : list of dict
        One entry per *completed* epoch with keys ``epoch`` (1-based),
        ``train_loss`` and ``train_acc`` (averages over the epoch's
        mini-batches, taken while the weights change), ``test_acc``
        (evaluated after the epoch), ``lr`` (learning rate of the epoch's last
        step) and ``seconds`` (wall time of the epoch, evaluation included).
    final_test_acc : float
        Test accuracy of the model as returned.  NaN if its test outputs are
        not finite (e.g. after a divergent run).
    stopped : str or None
        ``None`` if all epochs ran, otherwise why training stopped early
        (``"non-finite loss at epoch ..."`` or ``"time limit ..."``).
    seconds : float
        Total wall time of :func:`train`.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    final_test_acc: float = math.nan
    stopped: str | None = None
    seconds: float = 0.0

    @property
    def epochs_completed(self) -> int:
        """Number of epochs that ran to the end."""
        return len(self.history)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serializable copy (``history`` entries are copied)."""
        return {
            "history": [dict(h) for h in self.history],
            "final_test_acc": self.final_test_acc,
            "stopped": self.stopped,
            "seconds": self.seconds,
        }


# ------------------------------------------------------------------ checks
def _check_int(x: Any, name: str, minimum: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {x!r}")
    if x < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {x}")
    return int(x)


def _check_real(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {x}")
    return v


def _check_choice(x: Any, name: str, choices: tuple[str, ...], none_ok: bool = False) -> str:
    """``x`` lower-cased if it names one of ``choices``; a clear error naming ``name`` otherwise."""
    if not isinstance(x, str):
        raise TypeError(f"{name}: expected a str{' or None' if none_ok else ''}, got {x!r}")
    if x.lower() not in choices:
        expected = ("None or one of " if none_ok else "one of ") + ", ".join(choices)
        raise ValueError(f"{name}: unknown {name} {x!r}; expected {expected}")
    return x.lower()


def _model_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the first floating-point parameter (inputs are cast to it)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


# --------------------------------------------------------------- evaluation
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``(x, y)``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch of inputs to logits ``(batch, num_classes)``.  It is put
        in evaluation mode for the call and its previous mode restored.
    x : torch.Tensor
        Inputs ``(n, ...)``; batches are moved to the model's device and cast
        to the dtype of its first floating-point parameter.
    y : torch.Tensor
        Integer labels ``(n,)``.
    batch_size : int, optional
        Examples per forward pass (memory only; the result does not depend
        on it beyond floating-point rounding).

    Returns
    -------
    (float, float)
        The mean loss (NaN or inf if some logits are not finite) and the
        fraction of examples whose largest logit is the label.
    """
    bs = _check_int(batch_size, "batch_size", 1)
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("x, y: expected torch tensors")
    n = int(x.shape[0]) if x.ndim else 0
    if n == 0:
        raise ValueError(f"x: expected a non-empty batch, got shape {tuple(x.shape)}")
    if y.shape != (n,):
        raise ValueError(f"y: expected shape ({n},) to match x, got {tuple(y.shape)}")
    device = _model_device(model)
    dtype = _model_dtype(model) if x.is_floating_point() else None
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    try:
        with torch.no_grad():
            for i in range(0, n, bs):
                xb = x[i : i + bs].to(device, dtype=dtype, non_blocking=True)
                yb = y[i : i + bs].to(device, non_blocking=True)
                logits = model(xb)
                _check_logits(logits, xb, None)
                loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum").double()
                correct += (logits.argmax(dim=1) == yb).sum()
    finally:
        model.train(was_training)
    return float(loss_sum) / n, int(correct) / n


def _check_logits(logits: Any, xb: torch.Tensor, num_classes: int | None) -> None:
    b = int(xb.shape[0])
    if not isinstance(logits, torch.Tensor):
        raise ValueError(
            f"model: expected a tensor of logits, got {type(logits).__name__} "
            f"for an input batch of shape {tuple(xb.shape)}"
        )
    ok = logits.ndim == 2 and logits.shape[0] == b
    if num_classes is not None:
        ok = ok and logits.shape[1] == num_classes
    if not ok:
        k = "num_classes" if num_classes is None else str(num_classes)
        raise ValueError(
            f"model: expected logits of shape (batch, num_classes) = ({b}, {k}) for an "
            f"input batch of shape {tuple(xb.shape)}, got {tuple(logits.shape)}"
        )
    if not logits.is_floating_point():
        raise ValueError(f"model: expected floating-point logits, got {logits.dtype}")


# ------------------------------------------------------------------ training
def _make_scheduler(
    schedule: str | None, opt: torch.optim.Optimizer, epochs: int, steps_per_epoch: int
) -> tuple[torch.optim.lr_scheduler.LRScheduler | None, bool]:
    """The scheduler and whether it steps per optimizer step (else per epoch)."""
    if schedule is None:
        return None, False
    if schedule == "cosine":
        total = epochs * steps_per_epoch
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total), True
    if schedule == "step":
        every = max(1, math.ceil(epochs / 3))
        return torch.optim.lr_scheduler.StepLR(opt, step_size=every, gamma=0.5), False
    raise AssertionError(schedule)  # validated by the caller


def _progress(enabled: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  acc {task.fields[acc]}  test {task.fields[test]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


def train(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    schedule: str | None = None,
    seed: int = 0,
    progress: bool = True,
    time_limit: float | None = None,
    eval_batch_size: int = 1024,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` with mini-batch cross-entropy.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch ``x`` of shape ``(batch, *data.input_shape)`` to logits
        ``(batch, data.num_classes)``.  Trained in place.
    data : Dataset
        The training and test data (held in memory; moved to the device once).
    epochs : int, optional
        Passes over the training set, >= 1.
    batch_size : int, optional
        Training mini-batch size, >= 1 (the last batch of an epoch may be
        smaller).
    optimizer : str, optional
        One of :data:`OPTIMIZERS`: ``"sgd"`` (momentum 0.9), ``"adam"``,
        ``"adamw"``, ``"rmsprop"``, ``"adagrad"``.
    lr : float, optional
        Learning rate, > 0.
    weight_decay : float, optional
        Weight decay passed to the optimizer, >= 0 (decoupled for ``"adamw"``,
        L2 for the others).
    schedule : {None, "cosine", "step"}, optional
        ``None``: constant rate; ``"cosine"``: cosine annealing to 0 over all
        steps; ``"step"``: halve the rate after every ``ceil(epochs / 3)``
        epochs.
    seed : int, optional
        Seeds ``torch.manual_seed`` and the generator that shuffles the
        training set every epoch: the same seed, model initialization and
        data give the same history (on the same device and thread count).
    progress : bool, optional
        Show a ``rich`` progress bar with the epoch, the running loss and the
        accuracies.
    time_limit : float, optional
        Stop cleanly once this many seconds have passed (checked after every
        step); ``stopped`` then starts with ``"time limit"``.
    eval_batch_size : int, optional
        Batch size of the test-set evaluations.
    device : str or torch.device, optional
        Train here (the model is moved with ``model.to(device)``); default:
        the device of the model's parameters.  The inputs are moved there
        once and cast to the dtype of the model's first floating-point
        parameter (so float64 models work on the float32 data sets).

    Returns
    -------
    TrainResult
        Per-epoch history, final test accuracy, early-stop reason and time.

    Raises
    ------
    ValueError
        For bad arguments (the message starts with the argument name), for
        inputs containing NaN or inf, or if the model's output does not have
        shape ``(batch, num_classes)``; all before any step.

    Warns
    -----
    RuntimeWarning
        If the loss becomes NaN or infinite; training stops (it does not
        raise) and the message is also in ``TrainResult.stopped``.

    Examples
    --------
    >>> import torch
    >>> from dltheory.data import load_digits
    >>> data = load_digits()
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    >>> result = train(model, data, epochs=5, progress=False, lr=1e-2)
    >>> result.final_test_acc > 0.9
    True
    """
    start = time.perf_counter()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data: expected a dltheory.data.Dataset, got {type(data).__name__}")
    epochs = _check_int(epochs, "epochs", 1)
    batch_size = _check_int(batch_size, "batch_size", 1)
    eval_batch_size = _check_int(eval_batch_size, "eval_batch_size", 1)
    seed = _check_int(seed, "seed", 0)
    lr = _check_real(lr, "lr")
    if lr <= 0:
        raise ValueError(f"lr: must be > 0, got {lr}")
    weight_decay = _check_real(weight_decay, "weight_decay")
    if weight_decay < 0:
        raise ValueError(f"weight_decay: must be >= 0, got {weight_decay}")
    if time_limit is not None:
        time_limit = _check_real(time_limit, "time_limit")
        if time_limit <= 0:
            raise ValueError(f"time_limit: must be > 0 seconds or None, got {time_limit}")
    opt_name = _check_choice(optimizer, "optimizer", OPTIMIZERS)
    if schedule is not None:
        schedule = _check_choice(schedule, "schedule", SCHEDULES, none_ok=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: has no trainable parameters")

    check_finite(data.x_train, "data.x_train")
    check_finite(data.x_test, "data.x_test")

    if device is not None:
        model.to(device)
    dev = _model_device(model)
    dtype = _model_dtype(model)
    x_train = data.x_train.to(dev, dtype=dtype)
    y_train = data.y_train.to(dev)
    x_test = data.x_test.to(dev, dtype=dtype)
    y_test = data.y_test.to(dev)
    n = int(x_train.shape[0])
    k = data.num_classes

    # One batch through the model before any step, in eval mode and without
    # gradients so that no state (e.g. batch-norm statistics) changes.
    was_training = model.training
    model.eval()
    probe = x_train[: min(batch_size, n)]
    try:
        with torch.no_grad():
            out = model(probe)
    except RuntimeError as e:
        raise ValueError(
            f"model: failed on an input batch of shape {tuple(probe.shape)} "
            f"(data.input_shape = {data.input_shape}): {e}"
        ) from e
    finally:
        model.train(was_training)
    _check_logits(out, probe, k)

    torch.manual_seed(seed)
    shuffle = torch.Generator(device="cpu").manual_seed(seed)
    opt = _OPTIMIZER_FACTORIES[opt_name](params, lr, weight_decay)
    steps_per_epoch = math.ceil(n / batch_size)
    scheduler, per_step = _make_scheduler(schedule, opt, epochs, steps_per_epoch)

    result = TrainResult()
    last_test = "-"
    model.train()
    try:
        with _progress(progress) as bar:
            task = bar.add_task(
                "train", total=epochs * steps_per_epoch, epoch=f"1/{epochs}", loss="-",
                acc="-", test=last_test,
            )
            for epoch in range(1, epochs + 1):
                t_epoch = time.perf_counter()
                perm = torch.randperm(n, generator=shuffle).to(dev)
                loss_sum = 0.0
                lr_used = float(opt.param_groups[0]["lr"])
                correct = 0
                seen = 0
                for step in range(1, steps_per_epoch + 1):
                    idx = perm[(step - 1) * batch_size : step * batch_size]
                    xb, yb = x_train[idx], y_train[idx]
                    logits = model(xb)
                    loss = F.cross_entropy(logits, yb)
                    loss_value, hits = torch.stack(
                        [loss.detach().float(), (logits.detach().argmax(1) == yb).sum().float()]
                    ).tolist()
                    if not math.isfinite(loss_value):
                        result.stopped = (
                            f"non-finite loss at epoch {epoch}, step {step}: lower the learning "
                            f"rate (lr={lr:g}, optimizer={opt_name!r}) or check the model and "
                            f"its initialization (the loss was {loss_value})"
                        )
                        warnings.warn(result.stopped, RuntimeWarning, stacklevel=2)
                        break
                    lr_used = float(opt.param_groups[0]["lr"])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if scheduler is not None and per_step:
                        scheduler.step()
                    b = int(yb.shape[0])
                    loss_sum += loss_value * b
                    correct += int(hits)
                    seen += b
                    bar.update(
                        task, advance=1, epoch=f"{epoch}/{epochs}",
                        loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}",
                    )
                    if time_limit is not None and time.perf_counter() - start > time_limit:
                        result.stopped = (
                            f"time limit of {time_limit:g} s reached at epoch {epoch}, "
                            f"step {step} ({time.perf_counter() - start:.2f} s elapsed)"
                        )
                        break
                if result.stopped is not None:
                    break
                if scheduler is not None and not per_step:
                    scheduler.step()
                _, test_acc = evaluate(model, x_test, y_test, eval_batch_size)
                model.train()
                result.history.append(
                    {
                        "epoch": epoch,
                        "train_loss": loss_sum / seen,
                        "train_acc": correct / seen,
                        "test_acc": test_acc,
                        "lr": lr_used,
                        "seconds": time.perf_counter() - t_epoch,
                    }
                )
                last_test = f"{test_acc:.3f}"
                bar.update(task, test=last_test)
                if (
                    time_limit is not None
                    and epoch < epochs
                    and time.perf_counter() - start > time_limit
                ):
                    result.stopped = (
                        f"time limit of {time_limit:g} s reached after epoch {epoch} "
                        f"({time.perf_counter() - start:.2f} s elapsed)"
                    )
                    break
    finally:
        model.train(was_training)

    if result.stopped is None:
        result.final_test_acc = result.history[-1]["test_acc"]
    else:
        test_loss, test_acc = evaluate(model, x_test, y_test, eval_batch_size)
        result.final_test_acc = test_acc if math.isfinite(test_loss) else math.nan
    result.seconds = time.perf_counter() - start
    return result
