"""The optimizer :class:`EndToEnd`: gradient descent preconditioned by the end-to-end rule.

Arora, Cohen & Hazan (ICML 2018, Theorem 1 and Eq. 7): a plain linear model
trained with ``EndToEnd(params, lr, depth=N)`` follows, to first order in
``lr``, the end-to-end trajectory of gradient descent on a balanced depth-``N``
linear network, whatever its hidden widths.  The rule itself and how it is
computed (one small symmetric eigendecomposition per step, its accuracy) are in
:mod:`dltheory.optim.end_to_end_rule`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.optim.optimizer as _torch_optimizer

from ..validation import check_float, describe
from .end_to_end_rule import (
    MAX_DEPTH,
    _depth,
    apply_update,
    end_to_end_update,
    end_to_end_update_reference,
)

__all__ = ["MAX_DEPTH", "EndToEnd", "end_to_end_update", "end_to_end_update_reference"]

_LR_FIX = "a learning rate, finite and > 0"


def _lr(lr: Any) -> float:
    """The checked learning rate (:func:`~dltheory.validation.check_float`, finite, ``> 0``)."""
    return check_float(lr, "lr", minimum=0.0, exclusive_minimum=True, fix=_LR_FIX)


def _param_list(params: Any, name: str) -> list[Any]:
    """``params`` (an iterable of parameters or of groups) as a non-empty list."""
    if isinstance(params, (torch.Tensor, str, bytes, dict, set)) or not isinstance(
        params, Iterable
    ):
        fix = (
            "pass [tensor]"
            if isinstance(params, torch.Tensor)
            else "pass a list (a set has no fixed order)"
            if isinstance(params, set)
            else "e.g. model.parameters() or [{'params': [...], 'lr': ...}]"
        )
        raise TypeError(
            f"{name}: expected an iterable of parameters or of parameter groups (dicts), "
            f"got {describe(params)}; {fix}"
        )
    items = list(params)
    if not items:
        raise ValueError(f"{name}: expected at least one parameter, got an empty iterable")
    return items


_GLOBAL_PRE_HOOKS = getattr(_torch_optimizer, "_global_optimizer_pre_hooks", None)
_GLOBAL_POST_HOOKS = getattr(_torch_optimizer, "_global_optimizer_post_hooks", None)


def _hooks_or_profiler(opt: torch.optim.Optimizer) -> bool:
    """Whether a step hook is registered (here or globally) or the autograd profiler runs."""
    if _GLOBAL_PRE_HOOKS is None or _GLOBAL_POST_HOOKS is None:  # another torch: be safe
        return True
    return bool(
        _GLOBAL_PRE_HOOKS
        or _GLOBAL_POST_HOOKS
        or opt._optimizer_step_pre_hooks
        or opt._optimizer_step_post_hooks
        or torch.autograd._profiler_enabled()
    )


class EndToEnd(torch.optim.Optimizer):
    """Gradient descent preconditioned by the end-to-end rule of a depth-``N`` network.

    ``p <- p - lr * end_to_end_update(p, p.grad, depth)`` for every parameter:
    training a plain model (e.g. ``nn.Linear(d, k, bias=False)``) with
    ``EndToEnd(model.parameters(), lr, depth=N)`` follows, to first order in
    ``lr``, the end-to-end trajectory of gradient descent on a depth-``N``
    linear network of any hidden widths started balanced at the same
    end-to-end matrix (Arora, Cohen & Hazan, ICML 2018, Theorem 1), without
    creating any extra parameter.

    Parameters
    ----------
    params : iterable
        Parameters (real floating-point tensors with at least one entry) or
        parameter groups (a group may set its own ``lr`` and ``depth``; e.g.
        ``depth=1`` for biases, which gives plain SGD).
    lr : float
        Learning rate, finite and ``> 0``.
    depth : int
        The emulated depth ``1 <= N <=`` :data:`MAX_DEPTH` (``N = 1`` is plain
        gradient descent).

    Raises
    ------
    TypeError, ValueError
        On construction (and in :meth:`add_param_group`), for a bad ``lr`` or
        ``depth`` (checked once per group), ``params`` that are not an
        iterable of tensors or groups, an empty ``params``, complex, integer
        or empty (zero-entry) parameters.  In :meth:`step`, for a parameter
        or gradient with NaN or infinite values (see Notes).

    Notes
    -----
    Vectors (and scalars) use the closed form of ICML'18 Eq. 10 (row vector);
    matrices one ``min(out, in)``-sized symmetric eigendecomposition per step
    (:func:`end_to_end_update`); tensors of higher order are treated as
    ``(shape[0], -1)`` matrices.  For ``N >= 2``, a parameter or a gradient
    with non-finite values raises a ``ValueError`` (the run diverged: lower
    ``lr``) instead of spreading NaN; the checks reuse what the step computes
    anyway (the Gram matrix's trace, one entry of a ``k x k`` product, the
    inner product of Eq. 10).  ``N = 1`` is ``torch.optim.SGD`` bit for bit,
    without checks.

    ``step`` skips ``torch.optim``'s per-step profiling wrapper unless a step
    hook is registered or the autograd profiler is on (then it runs through
    it, hooks and ``record_function`` as usual); ``zero_grad()`` likewise.

    Examples
    --------
    >>> model = torch.nn.Linear(10, 1, bias=False)
    >>> opt = EndToEnd(model.parameters(), lr=1e-2, depth=3)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, depth: int = 2) -> None:
        defaults = {"lr": _lr(lr), "depth": _depth(depth)}
        super().__init__(_param_list(params, "params"), defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (its own ``lr`` / ``depth`` allowed); it is checked here, once.

        ``lr`` and ``depth`` as in the constructor; the parameters must be real
        floating-point tensors with at least one entry.
        """
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(
                f"param_group: expected a dict with a 'params' entry, got {describe(param_group)}"
            )
        depth = _depth(param_group.get("depth", self.defaults["depth"]))
        lr = _lr(param_group.get("lr", self.defaults["lr"]))
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else _param_list(params, "params")
        for i, p in enumerate(params):
            if not isinstance(p, torch.Tensor) or not p.is_floating_point():
                raise TypeError(
                    f"params: expected real floating-point tensors (parameters), got "
                    f"{describe(p)} at position {i}"
                )
            if p.numel() == 0:
                raise ValueError(
                    f"params: expected parameters with at least one entry, got shape "
                    f"{tuple(p.shape)} at position {i}; leave empty tensors out"
                )
        seen = {id(q) for group in self.param_groups for q in group["params"]}
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(
                    f"params: expected each parameter once, got {describe(p)} at position {i} "
                    "again (in this group or another); a parameter takes one update per step"
                )
            seen.add(id(p))
        param_group["params"] = params
        for key, value in (("lr", lr), ("depth", depth)):
            if key in param_group:
                param_group[key] = value  # as a Python float / int
        super().add_param_group(param_group)

    def _step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, n = group["lr"], group["depth"]  # checked in add_param_group
            for index, p in enumerate(group["params"]):
                grad = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise ValueError("EndToEnd: sparse gradients are not supported")
                try:
                    apply_update(p.detach(), grad.detach(), n, lr)
                except ValueError as exc:
                    raise ValueError(f"EndToEnd (lr={lr:g}), parameter {index}: {exc}") from None
        return loss

    _hooked_step = torch.optim.Optimizer.profile_hook_step(_step)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        if _hooks_or_profiler(self):
            return self._hooked_step(closure)
        return self._step(closure)

    step.hooked = True  # type: ignore[attr-defined]  # torch.optim: do not wrap it again

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients (``None`` by default, as ``torch.optim.Optimizer.zero_grad``)."""
        if not set_to_none or torch.autograd._profiler_enabled():
            super().zero_grad(set_to_none)
            return
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None
