"""Learning-rate schedules, evaluated per epoch inside the compiled epoch.

Each schedule is a closed form of the epoch index ``e`` (0 for the first epoch)
and the optimizer's base rate ``lr``, matching PyTorch's scheduler of the same
idea stepped once per epoch:

==============  =========================================  ======================
schedule        lr(e)                                      PyTorch counterpart
==============  =========================================  ======================
``Constant``    ``lr``                                     (none)
``StepDecay``   ``lr · gamma^(e // step_size)``            ``StepLR``
``Exponential`` ``lr · gamma^e``                           ``ExponentialLR``
``Cosine``      ``lr_min + (lr − lr_min)(1 + cos(π e/T))/2``  ``CosineAnnealingLR``
==============  =========================================  ======================

(``Cosine`` holds ``lr_min`` once ``e >= T``.)
"""
import math

import numpy as np

from ._jit import entry_kernel
from ._validation import check_int, check_real

CONSTANT, STEP_DECAY, EXPONENTIAL, COSINE = range(4)


class Schedule:
    """Base class: a schedule is a code and two float parameters."""

    code = CONSTANT

    def parameters(self):
        """Return the float64 array ``[code, p1, p2]`` the kernels read."""
        return np.array([self.code, 0.0, 0.0], dtype=np.float64)

    def __call__(self, lr, epoch):
        """Learning rate at ``epoch`` (0-based) for base rate ``lr``."""
        lr = check_real(lr, "lr", low=0.0, low_open=True)
        epoch = check_int(epoch, "epoch", 0)
        return learning_rate(lr, self.parameters(), epoch)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Constant(Schedule):
    """The base learning rate at every epoch."""


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    code = STEP_DECAY

    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = check_real(gamma, "gamma", low=0.0, low_open=True)

    def parameters(self):
        return np.array([self.code, self.step_size, self.gamma], dtype=np.float64)


class Exponential(Schedule):
    """Multiply the rate by ``gamma`` every epoch."""

    code = EXPONENTIAL

    def __init__(self, gamma):
        self.gamma = check_real(gamma, "gamma", low=0.0, low_open=True)

    def parameters(self):
        return np.array([self.code, self.gamma, 0.0], dtype=np.float64)


class Cosine(Schedule):
    """Cosine annealing from the base rate to ``lr_min`` over ``t_max`` epochs."""

    code = COSINE

    def __init__(self, t_max, lr_min=0.0):
        self.t_max = check_int(t_max, "t_max", 1)
        self.lr_min = check_real(lr_min, "lr_min", low=0.0)

    def parameters(self):
        return np.array([self.code, self.t_max, self.lr_min], dtype=np.float64)


def as_schedule(schedule):
    """Accept a :class:`Schedule`, ``None`` or ``"constant"``."""
    if schedule is None or schedule == "constant":
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    raise TypeError(
        "schedule must be a fastbp schedule (Constant, StepDecay, Exponential, "
        f"Cosine) or None, got {schedule!r}"
    )


@entry_kernel
def learning_rate(lr, schedule, epoch):
    """Learning rate of ``epoch`` under ``schedule`` (``[code, p1, p2]``)."""
    code = int(schedule[0])
    if code == STEP_DECAY:
        return lr * schedule[2] ** (epoch // int(schedule[1]))
    if code == EXPONENTIAL:
        return lr * schedule[1] ** epoch
    if code == COSINE:
        t_max = schedule[1]
        lr_min = schedule[2]
        e = min(float(epoch), t_max)
        return lr_min + (lr - lr_min) * (1.0 + math.cos(math.pi * e / t_max)) / 2.0
    return lr
