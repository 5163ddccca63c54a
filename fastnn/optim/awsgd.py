"""AW-SGD: SGD that learns where to sample ("Online Learning to Sample", Bouchard,
Trouillon, Perez, Gaidon, 2015, arXiv:1506.09016)."""
import numpy as np

from .base import Optimizer, check_real


class AWSGD(Optimizer):
    """Adaptive-weighted SGD: learns a sampling distribution over classes (or examples)
    online, to cut the variance of the stochastic gradient, with importance weights that keep
    it unbiased (Bouchard et al., 2015, arXiv:1506.09016).

    SGD minimises E_{x~p}[f(x; w)] with p uniform over the N training rows. AW-SGD draws rows
    from a proposal q instead and weights each row's loss by p(x)/q(x), so the step
    d = grad f(x; w) p(x)/q(x) stays unbiased while q is trained, alongside w, to minimise
    E_q[||d||^2], the only part of the variance that depends on q:

        q = (1 - mix) softmax(tau) + mix p          (mixing bounds the importance weights)
        draw each row's class c ~ q, then a row uniformly inside class c
        step:   w <- rule(w, (1/m) sum_i (p(c_i)/q(c_i)) grad f_i)
        tau <- tau + eta * mean_i (||d_i||^2 / r) (e_{c_i} - softmax(tau))

    where e_c - softmax(tau) is grad_tau log softmax(tau)_c and r a running mean of ||d||^2
    (a normalisation, so eta needs no tuning to the loss scale). The optimum is
    q*(c) proportional to p(c) sqrt(E[||g||^2 | c]). Per-row gradient norms come free from
    backprop: for a dense layer ||grad_W f_i||^2 = ||a_i||^2 ||delta_i||^2 and
    ||grad_b f_i||^2 = ||delta_i||^2. With one-hot targets (cross_entropy) the proposal is
    over classes; otherwise over the rows themselves.

    Parameters
    ----------
    step : FirstOrder optimizer or name, default SGD(lr=0.01)
        The rule that applies the importance-weighted gradient (any of fastnn.optim's
        first-order rules).
    eta : float
        Learning rate of the proposal's logits tau.
    mix : float in [0, 1]
        Share of the target distribution p mixed into q.
    """

    defaults = ("step", "eta", "mix")

    def __init__(self, step=None, eta=0.1, mix=0.1):
        from . import FirstOrder, SGD, get_optimizer
        self.step = SGD(lr=0.01) if step is None else get_optimizer(step)
        if not isinstance(self.step, FirstOrder):
            raise ValueError(f"AWSGD's step must be a first-order rule; got {self.step!r}")
        self.eta = check_real(eta, "eta", low=0)
        self.mix = check_real(mix, "mix", low=0, high=1)
        self.proposal = None

    def train(self, net, X, Y, session, epochs, batch_size=32, weight_decay=0.0, schedule=None,
              rng=None, threads=None, **_):
        rng = np.random.default_rng() if rng is None else rng
        n = X.shape[0]
        m = n if batch_size is None else min(batch_size, n)
        groups = (Y.argmax(axis=1) if net.loss == "cross_entropy" else np.arange(n))
        labels, group_of, counts = np.unique(groups, return_inverse=True, return_counts=True)
        by_group = np.argsort(group_of, kind="stable")  # rows of group k: by_group[starts[k]:][:counts[k]]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        target = counts / n
        tau = np.log(target)
        running = None
        self.step.reset(net.n_params, net.dtype)
        grad = np.empty_like(net.params)
        compiled = net.backend == "cython"
        lr0 = self.step.lr
        previous = None
        for epoch in range(epochs):
            lr = schedule.lr(epoch, lr0, n) if schedule is not None else lr0
            total = 0.0
            for _ in range(max(1, n // m)):
                soft = np.exp(tau - tau.max())
                soft /= soft.sum()
                q = (1 - self.mix) * soft + self.mix * target
                classes = rng.choice(labels.size, size=m, p=q)
                rows = by_group[starts[classes] + rng.integers(0, counts[classes])]
                weights = (target[classes] / q[classes]).astype(net.dtype)
                J = net._backend.backward(X[rows], Y[rows], weight_decay, grad, sample_weight=weights,
                                          threads=threads)
                if not np.isfinite(J):
                    if previous is not None:
                        net.params[...] = previous  # the last weights whose loss was finite
                    raise _diverged(epoch, J)
                previous = net.params.copy()
                norms = self._row_gradient_norms(net, X[rows], m)
                running = norms.mean() if running is None else 0.9 * running + 0.1 * norms.mean()
                scores = norms / max(running, np.finfo(float).tiny)
                tau += self.eta * (np.bincount(classes, scores, labels.size) - scores.sum() * soft) / m
                self.step.step(net.params, grad, compiled=compiled, lr=lr, threads=threads or 1)
                total += J
            self.proposal = q
            if not np.isfinite(net.params).all():
                net.params[...] = previous
                raise _diverged(epoch, float("nan"))
            if session.end_epoch(total / max(1, n // m), lr):
                return

    @staticmethod
    def _row_gradient_norms(net, X_batch, m):
        """||d_i||^2 of each row's importance-weighted gradient, from backprop's values."""
        activations, deltas = net._backend.layer_values(m)
        inputs = [X_batch] + list(activations[:-1])
        norms = np.zeros(m)
        for a, delta in zip(inputs, deltas):
            delta_sq = np.einsum("ij,ij->i", delta, delta) * float(m) ** 2
            norms += (np.einsum("ij,ij->i", a, a) + (1.0 if net.bias else 0.0)) * delta_sq
        return norms


def _diverged(epoch, loss):
    from ..history import TrainingDiverged
    return TrainingDiverged(epoch, 0, float(loss))
