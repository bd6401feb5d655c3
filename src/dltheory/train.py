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

import torch
import torch.nn.functional as F
from torch import nn

from .data.base import Dataset
from .validation import (
    check_array,
    check_choice,
    check_device,
    check_flag,
    check_float,
    check_int,
    check_seed,
    describe,
)

__all__ = ["MAX_EPOCHS", "MAX_RATE", "OPTIMIZERS", "SCHEDULES", "TrainResult", "evaluate", "train"]

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
#: Largest learning rate or weight decay: the optimizers compute in float32, and
#: ``lr * weight_decay`` (AdamW) must stay inside its range.
MAX_RATE = 1e15
#: Most epochs one call may run (with ``time_limit``, "until the time is up").
MAX_EPOCHS = 10**6


def _check_tensor(x: Any, name: str) -> torch.Tensor:
    """A real, finite torch tensor with at least one example."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch tensor, got {describe(x)}")
    check_array(x, name)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty batch, got shape {tuple(x.shape)}")
    return x


def _check_labels(y: Any, n: int) -> torch.Tensor:
    """Integer labels of shape ``(n,)``, as int64."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y: expected a torch tensor of integer labels, got {describe(y)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(
            f"y: expected integer class labels, got a {y.dtype} tensor; convert with y.long()"
        )
    if y.shape != (n,):
        raise ValueError(f"y: expected shape ({n},) to match x, got {tuple(y.shape)}")
    return y.long()


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
        The mean loss and the fraction of examples whose largest logit is
        the label.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it): ``x`` must be a real,
        finite, non-empty tensor, ``y`` integer labels in
        ``0 .. num_classes - 1``, one per example.

    Warns
    -----
    RuntimeWarning
        If some logits are not finite (a diverged model): the loss is then
        NaN or inf, and the warning says on how many examples.
    """
    loss, acc, bad = _evaluate(model, x, y, batch_size)
    if bad:
        warnings.warn(
            f"evaluate: the model's logits are NaN or infinite on {bad} of {int(x.shape[0])} "
            f"examples, so the loss is {loss}; the model has diverged or overflows",
            RuntimeWarning,
            stacklevel=2,
        )
    return loss, acc


def _evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, checked: bool = False
) -> tuple[float, float, int]:
    """:func:`evaluate`, also returning the number of examples with non-finite logits.

    ``checked=True`` skips the argument checks (:func:`train` checked them once).
    """
    bs = batch_size
    hi = -1
    if not checked:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}")
        bs = check_int(batch_size, "batch_size", minimum=1)
        x = _check_tensor(x, "x")
        y = _check_labels(y, int(x.shape[0]))
        lo, hi = int(y.min()), int(y.max())
        if lo < 0:
            raise ValueError(f"y: expected class labels >= 0, found {lo}")
    n = int(x.shape[0])
    device = _model_device(model)
    dtype = _model_dtype(model) if x.is_floating_point() else None
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    bad = torch.zeros((), dtype=torch.int64, device=device)
    try:
        with torch.no_grad():
            for i in range(0, n, bs):
                xb = x[i : i + bs].to(device, dtype=dtype, non_blocking=True)
                yb = y[i : i + bs].to(device, non_blocking=True)
                try:
                    logits = model(xb)
                except RuntimeError as e:
                    raise ValueError(
                        f"x: the model failed on an input batch of shape {tuple(xb.shape)}: {e}"
                    ) from e
                _check_logits(logits, xb, None)
                if i == 0 and hi >= logits.shape[1]:
                    raise ValueError(
                        f"y: expected class labels in 0 .. {logits.shape[1] - 1} (the model has "
                        f"{logits.shape[1]} outputs), found {hi}"
                    )
                loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum").double()
                correct += (logits.argmax(dim=1) == yb).sum()
                bad += (~torch.isfinite(logits)).any(dim=1).sum()
    finally:
        model.train(was_training)
    return float(loss_sum) / n, int(correct) / n, int(bad)


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
        Passes over the training set, in ``1 ..`` :data:`MAX_EPOCHS`.
    batch_size : int, optional
        Training mini-batch size, >= 1 (the last batch of an epoch may be
        smaller).
    optimizer : str, optional
        One of :data:`OPTIMIZERS` (exactly, lower case): ``"sgd"`` (momentum
        0.9), ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``.
    lr : float, optional
        Learning rate, in ``(0,`` :data:`MAX_RATE` ``]``.
    weight_decay : float, optional
        Weight decay passed to the optimizer, in ``[0,`` :data:`MAX_RATE` ``]``
        (decoupled for ``"adamw"``, L2 for the others).
    schedule : {None, "cosine", "step"}, optional
        ``None``: constant rate; ``"cosine"``: cosine annealing to 0 over all
        steps; ``"step"``: halve the rate after every ``ceil(epochs / 3)``
        epochs.
    seed : int, optional
        In ``[0, 2**63)``.  Seeds ``torch.manual_seed`` and the generator that shuffles the
        training set every epoch: the same seed, model initialization and
        data give the same history (on the same device and thread count).
    progress : bool, optional
        Show a ``rich`` progress bar with the epoch, the running loss and the
        accuracies.
    time_limit : float, optional
        Stop cleanly once this many seconds (finite, > 0) have passed (checked
        after every step); ``stopped`` then starts with ``"time limit"``.
        ``None``: no limit.
    eval_batch_size : int, optional
        Batch size of the test-set evaluations.
    device : str or torch.device, optional
        Train here (the model is moved with ``model.to(device)``), a device
        this torch can use (``"cuda"`` is refused on a CPU-only build); default:
        the device of the model's parameters.  The inputs are moved there
        once and cast to the dtype of the model's first floating-point
        parameter (so float64 models work on the float32 data sets).

    Returns
    -------
    TrainResult
        Per-epoch history, final test accuracy, early-stop reason and time.

    Raises
    ------
    TypeError, ValueError
        For bad arguments (the message starts with the argument name), for
        inputs containing NaN or inf, or if the model's output does not have
        shape ``(batch, num_classes)``; all before any step (and before the
        model is moved to ``device``).

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
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data: expected a dltheory.data.Dataset, got {describe(data)}")
    epochs = check_int(
        epochs, "epochs", minimum=1, maximum=MAX_EPOCHS, fix="bound the run with time_limit"
    )
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    eval_batch_size = check_int(eval_batch_size, "eval_batch_size", minimum=1)
    seed = check_seed(seed)
    lr = check_float(lr, "lr", minimum=0.0, exclusive_minimum=True, maximum=MAX_RATE)
    weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0, maximum=MAX_RATE)
    if time_limit is not None:
        time_limit = check_float(
            time_limit,
            "time_limit",
            minimum=0.0,
            exclusive_minimum=True,
            fix="seconds; pass None for no limit",
        )
    opt_name = check_choice(optimizer, "optimizer", OPTIMIZERS)
    if schedule is not None:
        schedule = check_choice(schedule, "schedule", SCHEDULES)
    progress = check_flag(progress, "progress")
    dev_arg = None if device is None else check_device(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: has no trainable parameters")

    check_array(data.x_train, "data.x_train")
    check_array(data.x_test, "data.x_test")

    if dev_arg is not None:
        model.to(dev_arg)
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
                "train",
                total=epochs * steps_per_epoch,
                epoch=f"1/{epochs}",
                loss="-",
                acc="-",
                test=last_test,
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
                        task,
                        advance=1,
                        epoch=f"{epoch}/{epochs}",
                        loss=f"{loss_sum / seen:.4f}",
                        acc=f"{correct / seen:.3f}",
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
                _, test_acc, _ = _evaluate(model, x_test, y_test, eval_batch_size, checked=True)
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
        test_loss, test_acc, _ = _evaluate(model, x_test, y_test, eval_batch_size, checked=True)
        result.final_test_acc = test_acc if math.isfinite(test_loss) else math.nan
    result.seconds = time.perf_counter() - start
    return result
