"""Optimizers: textbook formulas (tests/naive.py), PyTorch trajectories, schedules."""
import numba
import numpy as np
import pytest

import fastbp
from fastbp.gradient_update import sgd_rows_times
from tests import naive

OPTIMIZERS = [
    (fastbp.SGD, dict(lr=0.1), naive.SGDRef),
    (fastbp.SGD, dict(lr=0.1, weight_decay=0.01), naive.SGDRef),
    (fastbp.SGD, dict(lr=0.05, momentum=0.9), naive.SGDRef),
    (fastbp.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), naive.SGDRef),
    (fastbp.RMSProp, dict(lr=0.01, rho=0.9, eps=1e-8), naive.RMSPropRef),
    (fastbp.RMSProp, dict(lr=0.01, rho=0.95, momentum=0.5, centered=True, weight_decay=0.001), naive.RMSPropRef),
    (fastbp.Adam, dict(lr=0.01), naive.AdamRef),
    (fastbp.Adam, dict(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.01), naive.AdamRef),
    (fastbp.AdamW, dict(lr=0.01, weight_decay=0.1), None),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _, _) in enumerate(OPTIMIZERS)]


def problem(seed=0, n=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = rng.integers(0, 3, size=n)
    net = fastbp.Network([4, 5, 3], activation="tanh", output="softmax", loss="cross_entropy",
                         dtype=np.float64, seed=seed)
    return net, X, y


def reference(cls, kwargs):
    _, kw, ref_cls = next(o for o in OPTIMIZERS if o[0] is cls and o[1] == kwargs)
    if cls is fastbp.AdamW:
        return naive.AdamRef(decoupled=True, **kwargs)
    return ref_cls(**kwargs)


@pytest.mark.parametrize("cls,kwargs,_", OPTIMIZERS, ids=IDS)
def test_step_equals_textbook_formula(cls, kwargs, _):
    net, X, y = problem()
    ref = reference(cls, kwargs)
    theta = net.parameters.copy()
    optimizer = cls(**kwargs)
    for _ in range(5):
        grad = np.concatenate([np.concatenate([g.dW.ravel(), g.db]) for g in net.gradients(X, y)])
        theta = ref.step(theta, grad)
        net.fit(X, y, epochs=1, batch_size=None, optimizer=optimizer, shuffle=False)
        np.testing.assert_allclose(net.parameters, theta, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,kwargs,_", OPTIMIZERS, ids=IDS)
def test_per_sample_step_equals_textbook_formula(cls, kwargs, _):
    # A one-sample batch takes another path: the update computes the outer
    # product δ_j·a inside its own loop (fastbp.gradient_update).
    net, X, y = problem(seed=1)
    ref = reference(cls, kwargs)
    theta = net.parameters.copy()
    optimizer = cls(**kwargs)
    for i in range(6):
        sample = slice(i, i + 1)
        grad = np.concatenate([np.concatenate([g.dW.ravel(), g.db]) for g in net.gradients(X[sample], y[sample])])
        theta = ref.step(theta, grad)
        net.fit(X[sample], y[sample], epochs=1, batch_size=1, optimizer=optimizer, shuffle=False)
        np.testing.assert_allclose(net.parameters, theta, rtol=1e-12, atol=1e-14)


def _torch_trajectory(net, X, y, torch_optimizer, steps, batch_size=None, scheduler=None):
    torch = pytest.importorskip("torch")
    Ws = [torch.tensor(W.copy(), requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]
    params = [p for pair in zip(Ws, bs) for p in pair]
    opt = torch_optimizer(params)
    sched = scheduler(opt) if scheduler else None
    Xt, yt = torch.tensor(X), torch.tensor(y)
    n = len(y)
    batch = n if batch_size is None else batch_size
    for _ in range(steps):
        for start in range(0, n, batch):
            xb, yb = Xt[start:start + batch], yt[start:start + batch]
            opt.zero_grad()
            h = torch.tanh(xb @ Ws[0].T + bs[0])
            logits = h @ Ws[1].T + bs[1]
            torch.nn.functional.cross_entropy(logits, yb).backward()
            opt.step()
        if sched:
            sched.step()
    return np.concatenate([np.concatenate([W.detach().numpy().ravel(), b.detach().numpy()])
                           for W, b in zip(Ws, bs)])


def _torch_optimizer(cls, kwargs):
    torch = pytest.importorskip("torch")
    k = dict(kwargs)
    if cls is fastbp.SGD:
        return lambda p: torch.optim.SGD(p, lr=k["lr"], momentum=k.get("momentum", 0.0),
                                         nesterov=k.get("nesterov", False), weight_decay=k.get("weight_decay", 0.0))
    if cls is fastbp.RMSProp:
        return lambda p: torch.optim.RMSprop(p, lr=k["lr"], alpha=k.get("rho", 0.9), eps=k.get("eps", 1e-8),
                                             weight_decay=k.get("weight_decay", 0.0),
                                             momentum=k.get("momentum", 0.0), centered=k.get("centered", False))
    betas = (k.get("beta1", 0.9), k.get("beta2", 0.999))
    if cls is fastbp.AdamW:
        return lambda p: torch.optim.AdamW(p, lr=k["lr"], betas=betas, eps=k.get("eps", 1e-8),
                                           weight_decay=k.get("weight_decay", 0.01))
    return lambda p: torch.optim.Adam(p, lr=k["lr"], betas=betas, eps=k.get("eps", 1e-8),
                                      weight_decay=k.get("weight_decay", 0.0))


@pytest.mark.parametrize("cls,kwargs,_", OPTIMIZERS, ids=IDS)
def test_trajectory_matches_pytorch(cls, kwargs, _):
    """20 full-batch steps in float64 agree with torch.optim to 1e-6."""
    net, X, y = problem(1)
    expected = _torch_trajectory(net, X, y, _torch_optimizer(cls, kwargs), steps=20)
    net.fit(X, y, epochs=20, batch_size=None, optimizer=cls(**kwargs), shuffle=False)
    np.testing.assert_allclose(net.parameters, expected, rtol=1e-6, atol=1e-6)


def test_minibatch_trajectory_matches_pytorch():
    net, X, y = problem(2, n=10)  # batches of 4, 4 and a last partial batch of 2
    expected = _torch_trajectory(net, X, y, _torch_optimizer(fastbp.Adam, dict(lr=0.01)), steps=7, batch_size=4)
    net.fit(X, y, epochs=7, batch_size=4, optimizer=fastbp.Adam(lr=0.01), shuffle=False)
    np.testing.assert_allclose(net.parameters, expected, rtol=1e-6, atol=1e-6)


SCHEDULES = [
    (fastbp.StepDecay(step_size=2, gamma=0.5), lambda o, t: t.optim.lr_scheduler.StepLR(o, 2, 0.5)),
    (fastbp.Exponential(gamma=0.8), lambda o, t: t.optim.lr_scheduler.ExponentialLR(o, 0.8)),
    (fastbp.Cosine(t_max=6, lr_min=0.001), lambda o, t: t.optim.lr_scheduler.CosineAnnealingLR(o, 6, 0.001)),
]


@pytest.mark.parametrize("schedule,torch_scheduler", SCHEDULES, ids=["step", "exponential", "cosine"])
def test_schedules_match_pytorch(schedule, torch_scheduler):
    torch = pytest.importorskip("torch")
    net, X, y = problem(3)
    expected = _torch_trajectory(net, X, y, _torch_optimizer(fastbp.SGD, dict(lr=0.5, momentum=0.5)), steps=6,
                                 batch_size=4, scheduler=lambda o: torch_scheduler(o, torch))
    net.fit(X, y, epochs=6, batch_size=4, shuffle=False,
            optimizer=fastbp.SGD(lr=0.5, momentum=0.5, schedule=schedule))
    np.testing.assert_allclose(net.parameters, expected, rtol=1e-6, atol=1e-6)


def test_schedule_closed_forms():
    assert [fastbp.StepDecay(3, 0.1)(1.0, e) for e in range(7)] == pytest.approx(
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert fastbp.Exponential(0.5)(2.0, 3) == pytest.approx(0.25)
    cosine = fastbp.Cosine(t_max=4, lr_min=0.0)
    assert [cosine(1.0, e) for e in (0, 2, 4, 9)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    assert fastbp.Constant()(0.3, 100) == 0.3


@numba.njit
def _sgd_rows_times(C, a, lr, W, x, z):
    sgd_rows_times(C, a, lr, W, x, z)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n", [(1, 5), (4, 33), (7, 16), (9, 130)])
@pytest.mark.parametrize("z_is_C", [False, True])
def test_plain_sgd_pass_with_next_product_matches_numpy(dtype, m, n, z_is_C):
    """gradient_update.sgd_rows_times: the rows move exactly as the textbook step
    ``W - lr·(C ⊗ a)`` rounds in this dtype, and ``z`` is the moved rows times ``x``
    (four rows at a time, plus the rows left over; ``z`` may overwrite ``C``)."""
    rng = np.random.default_rng(m * 100 + n)
    W = rng.standard_normal((m, n)).astype(dtype)
    C, a, x = (rng.standard_normal(k).astype(dtype) for k in (m, n, n))
    lr = dtype(0.05)
    want_W = W - lr * (C[:, None] * a[None, :])  # NumPy, elementwise in this dtype
    want_z = want_W.astype(np.float64) @ x.astype(np.float64)
    z = C if z_is_C else np.full(m, np.nan, dtype)
    _sgd_rows_times(C.copy() if not z_is_C else C, a, lr, W, x, z)
    np.testing.assert_array_equal(W, want_W)  # the same operations, so the same bits
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z, want_z, **tol)


def test_state_is_allocated_once_and_updated_in_place():
    net, X, y = problem()
    optimizer = fastbp.Adam(lr=0.01)
    net.fit(X, y, epochs=1, optimizer=optimizer)
    state = optimizer.state
    net.fit(X, y, epochs=3, optimizer=optimizer)
    assert optimizer.state is state and optimizer.steps == 4
    other, _, _ = problem(1)
    with pytest.raises(ValueError, match="another network"):
        other.fit(X, y, optimizer=optimizer)


@pytest.mark.parametrize("make", [
    lambda: fastbp.SGD(lr=0), lambda: fastbp.SGD(lr=-1), lambda: fastbp.SGD(lr=float("nan")),
    lambda: fastbp.SGD(lr=0.1, momentum=1.0), lambda: fastbp.SGD(lr=0.1, nesterov=True),
    lambda: fastbp.Adam(beta1=1.0), lambda: fastbp.Adam(eps=0), lambda: fastbp.RMSProp(rho=-0.1),
    lambda: fastbp.AdamW(weight_decay=-1), lambda: fastbp.StepDecay(0), lambda: fastbp.Cosine(t_max=0),
    lambda: fastbp.Exponential(gamma=0),
])
def test_bad_hyperparameters_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("make", [lambda: fastbp.SGD(lr="0.1"), lambda: fastbp.SGD(lr=True),
                                  lambda: fastbp.SGD(lr=0.1, nesterov=1), lambda: fastbp.SGD(schedule="cosine")])
def test_bad_hyperparameter_types_raise_type_error(make):
    with pytest.raises(TypeError):
        make()
