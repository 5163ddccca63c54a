"""Full-batch quasi-Newton training through scipy.optimize.minimize (L-BFGS-B and BFGS).

scipy sees the network's flat parameter vector directly: in float64 each evaluation runs the
backward pass at scipy's own x (no copy of the parameters); a float32 network is evaluated
at x cast once to float32 per call, and its gradient handed back in float64.
"""
import numpy as np

from ..history import TrainingDiverged
from .base import Optimizer, check_count, check_real


def scipy_objective(net, X, Y, weight_decay, sample_weight=None, threads=None):
    """fun(x) -> (J, grad) for scipy.optimize.minimize(jac=True), evaluated at scipy's x.

    float64: the backward pass runs at x itself (no copy of the parameters); float32: x is
    cast into one reused float32 vector. Each call returns a new float64 gradient, since
    scipy keeps earlier ones. threads: the most threads the compiled kernels use.
    """
    from ..dask_blocks import DaskBlocks

    if isinstance(X, DaskBlocks):  # Y and the sample weights are in X's blocks
        return X.objective(net, weight_decay)
    backend = net._backend
    grad = np.empty_like(net.params)
    if net.params.dtype == np.float64:
        def fun(x):
            J = backend.backward(X, Y, weight_decay, grad, sample_weight, params=x, threads=threads)
            return J, grad.copy()
    else:
        work = np.empty_like(net.params)

        def fun(x):
            work[...] = x
            J = backend.backward(X, Y, weight_decay, grad, sample_weight, params=work,
                                 threads=threads)
            return J, grad.astype(np.float64)
    return fun


class _ScipyMinimizer(Optimizer):
    method = None
    defaults = ("max_iter", "tol", "max_fun")

    def __init__(self, max_iter=None, tol=None, max_fun=15000):
        self.max_iter = None if max_iter is None else check_count(max_iter, "max_iter")
        self.tol = None if tol is None else check_real(tol, "tol", low=0)
        self.max_fun = check_count(max_fun, "max_fun")
        self.result = None

    def _options(self, max_iter):
        return {"maxiter": max_iter}

    def train(self, net, X, Y, session, epochs, weight_decay=0.0, threads=None, **_):
        """Minimise J over net.params, max_iter iterations (default: fit's epochs); every
        iteration is one History epoch. Stops early as the Session says."""
        from scipy.optimize import minimize

        objective = scipy_objective(net, X, Y, weight_decay, threads=threads)
        n_calls = [0]

        class Stop(Exception):
            pass

        def fun(x):
            n_calls[0] += 1
            if n_calls[0] > self.max_fun:
                raise Stop("max_fun")
            return objective(x)

        last_good = net.params.copy()  # the last iterate whose loss was finite

        def callback(intermediate_result):
            # the iterate is scipy's x; the network follows it so validation, callbacks and
            # best-weight tracking see the current point
            net.params[...] = intermediate_result.x
            if np.isfinite(intermediate_result.fun) and np.isfinite(net.params).all():
                last_good[...] = net.params
            if session.end_epoch(intermediate_result.fun, 0.0):
                raise StopIteration

        x0 = net.params.astype(np.float64)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
                self.result = minimize(fun, x0, jac=True, method=self.method, tol=self.tol,
                                       callback=callback,
                                       options=self._options(self.max_iter or epochs))
        except Stop:
            session.history.stop_reason = "max_fun"
            return
        if not (np.isfinite(self.result.fun) and np.isfinite(self.result.x).all()):
            net.params[...] = last_good
            raise TrainingDiverged(session.history.epochs, 0, float(self.result.fun))
        net.params[...] = self.result.x
        if self.result.success and session.history.stop_reason == "completed":
            session.history.stop_reason = "converged"


class LBFGS(_ScipyMinimizer):
    """Limited-memory BFGS (scipy's L-BFGS-B without bounds), full batch.

    Parameters
    ----------
    max_iter : int or None
        Iterations; None uses fit's `epochs`.
    tol : float or None
        scipy's tolerance (ftol/gtol).
    max_fun : int
        Most loss-and-gradient evaluations.
    history_size : int
        Correction pairs kept (scipy's maxcor).
    """

    method = "L-BFGS-B"
    defaults = ("max_iter", "tol", "max_fun", "history_size")

    def __init__(self, max_iter=None, tol=None, max_fun=15000, history_size=10):
        super().__init__(max_iter, tol, max_fun)
        self.history_size = check_count(history_size, "history_size")

    def _options(self, max_iter):
        return {"maxiter": max_iter, "maxfun": self.max_fun, "maxcor": self.history_size}


class BFGS(_ScipyMinimizer):
    """BFGS with a dense inverse-Hessian estimate (scipy), full batch: for small networks
    (the estimate holds n_params^2 numbers)."""

    method = "BFGS"
