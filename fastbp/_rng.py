"""A tiny counter-based random generator (SplitMix64) usable inside kernels.

Its whole state is one uint64 in an array the network owns, so shuffling is
reproducible, independent of numba's thread-local generators, and can be saved
and restored with the model.
"""
import numpy as np

from ._jit import kernel


def new_state(seed):
    """A generator state array seeded from ``seed`` (int or None)."""
    seed_seq = np.random.SeedSequence(seed)
    return seed_seq.generate_state(1, dtype=np.uint64)


@kernel
def next_uint64(state):
    """Advance ``state`` and return the next 64-bit output of SplitMix64."""
    s = state[0] + np.uint64(0x9E3779B97F4A7C15)
    state[0] = s
    z = (s ^ (s >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@kernel
def random_below(state, n):
    """A random integer in ``[0, n)`` (``n >= 1``); modulo bias < n / 2**64."""
    return np.int64(next_uint64(state) % np.uint64(n))


@kernel
def shuffle_in_place(order, state):
    """Fisher-Yates shuffle of ``order`` in place."""
    for i in range(order.shape[0] - 1, 0, -1):
        j = random_below(state, i + 1)
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
