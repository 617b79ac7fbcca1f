"""fastbp: fast backpropagation training of fully-connected networks on CPUs.

The hot loops (dense forward, δ recursion, weight gradients, optimizer
updates) are numba kernels; :class:`Network` validates input, owns the buffers
and calls them.  Nothing is compiled at import.
"""
from . import blas
from .gradcheck import gradcheck
from .io import load
from .network import LayerGradient, Network
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSProp
from .schedules import Constant, Cosine, Exponential, StepDecay
from .parallel import threads
from .training import History

__version__ = "0.1.0"

__all__ = [
    "Network", "LayerGradient", "History", "gradcheck", "threads", "load", "blas",
    "Optimizer", "SGD", "RMSProp", "Adam", "AdamW",
    "Constant", "StepDecay", "Exponential", "Cosine",
]
