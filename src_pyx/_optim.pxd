# Fused optimizer updates: one pass over the flat parameter vector, in place, following
# torch.optim's single-tensor rules operation by operation (so float64 trajectories agree
# with PyTorch to rounding; Adam multiplies by 1/sqrt(1 - beta2^t) where torch divides by
# sqrt(1 - beta2^t): one division less per parameter, the denominator within an ulp of
# torch's). `hyper` holds each rule's hyper-parameters in the order of
# fastnn/optim/first_order.py; `state` holds three rows of per-parameter state, `stride`
# apart, so that a slice of the parameters (one thread's share) is updated with the matching
# slice of the state; t is the 1-based step count. Callers guarantee the sizes.
from cython cimport floating
from libc.math cimport sqrt, pow

from _fmath cimport fsqrt

cdef enum:
    SGD = 0
    ADAGRAD = 1
    ADADELTA = 2
    ADAM = 3
    RMSPROP = 4
    RPROP = 5
    SKLEARN_SGD = 6
    SKLEARN_ADAM = 7


cdef inline floating lerp(floating start, floating end, floating weight) noexcept nogil:
    """torch.lerp: start + weight * (end - start), in the form torch evaluates."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (<floating> 1 - weight)


cdef inline void update(int kind, const double* hyper, const floating* p, floating* q,
                        const floating* g, floating* state, Py_ssize_t stride, Py_ssize_t n,
                        long t, double lr) noexcept nogil:
    """q <- one step of rule `kind` from parameters p (q may be p: in place, or another
    buffer, so the parameters before the step are kept)."""
    cdef Py_ssize_t i
    cdef floating gi, d, denom, avg, s, pi
    cdef floating flr = <floating> lr
    cdef floating* s0 = state
    cdef floating* s1 = state + stride
    cdef floating* s2 = state + 2 * stride
    cdef floating wd, momentum, dampening, b2, eps, step_size, c2_inverse, clr, decay
    cdef floating rho, alpha, etaminus, etaplus, step_min, step_max, one_minus, one_minus2
    cdef bint nesterov, amsgrad, decoupled, centered
    # Loop-invariant choices are taken outside the loops, so each loop is straight-line
    # code that the compiler vectorizes. Adding wd * p with wd = 0 leaves g exactly as is
    # (parameters are finite), so weight decay needs no branch either.
    if kind == SGD:  # hyper: momentum, dampening, weight_decay, nesterov
        momentum = <floating> hyper[0]
        dampening = <floating> (1 - hyper[1])
        wd = <floating> hyper[2]
        nesterov = hyper[3] != 0
        if momentum == 0:
            for i in range(n):
                q[i] = p[i] + (-flr) * (g[i] + wd * p[i])
        elif t == 1:
            for i in range(n):
                gi = g[i] + wd * p[i]
                s0[i] = gi
                q[i] = p[i] + (-flr) * (gi + momentum * gi if nesterov else gi)
        elif nesterov:
            for i in range(n):
                gi = g[i] + wd * p[i]
                s0[i] = s0[i] * momentum + dampening * gi
                q[i] = p[i] + (-flr) * (gi + momentum * s0[i])
        else:
            for i in range(n):
                gi = g[i] + wd * p[i]
                s0[i] = s0[i] * momentum + dampening * gi
                q[i] = p[i] + (-flr) * s0[i]
    elif kind == ADAGRAD:  # hyper: lr_decay, weight_decay, eps
        clr = <floating> (lr / (1 + (t - 1) * hyper[0]))
        wd = <floating> hyper[1]
        eps = <floating> hyper[2]
        for i in range(n):
            gi = g[i] + wd * p[i]
            s0[i] = s0[i] + gi * gi
            q[i] = p[i] + (-clr) * gi / (fsqrt(s0[i]) + eps)
    elif kind == ADADELTA:  # hyper: rho, eps, weight_decay
        rho = <floating> hyper[0]
        one_minus = <floating> (1 - hyper[0])
        eps = <floating> hyper[1]
        wd = <floating> hyper[2]
        for i in range(n):
            gi = g[i] + wd * p[i]
            s0[i] = s0[i] * rho + one_minus * gi * gi
            d = fsqrt(s1[i] + eps) / fsqrt(s0[i] + eps) * gi
            s1[i] = s1[i] * rho + one_minus * d * d
            q[i] = p[i] + (-flr) * d
    elif kind == ADAM:  # hyper: beta1, beta2, eps, weight_decay, amsgrad, decoupled (AdamW)
        one_minus = <floating> (1 - hyper[0])   # torch forms 1 - beta in double
        b2 = <floating> hyper[1]
        one_minus2 = <floating> (1 - hyper[1])
        eps = <floating> hyper[2]
        amsgrad = hyper[4] != 0
        decoupled = hyper[5] != 0
        wd = <floating> (0 if decoupled else hyper[3])
        decay = <floating> (1 - lr * hyper[3] if decoupled else 1)
        step_size = <floating> (lr / (1 - pow(hyper[0], t)))
        c2_inverse = <floating> (1 / sqrt(1 - pow(hyper[1], t)))
        if amsgrad:
            for i in range(n):
                pi = p[i] * decay
                gi = g[i] + wd * pi
                s0[i] = lerp(s0[i], gi, one_minus)
                s1[i] = s1[i] * b2 + one_minus2 * gi * gi
                s2[i] = s1[i] if s1[i] > s2[i] else s2[i]
                q[i] = pi + (-step_size) * s0[i] / (fsqrt(s2[i]) * c2_inverse + eps)
        else:
            for i in range(n):
                pi = p[i] * decay
                gi = g[i] + wd * pi
                s0[i] = lerp(s0[i], gi, one_minus)
                s1[i] = s1[i] * b2 + one_minus2 * gi * gi
                q[i] = pi + (-step_size) * s0[i] / (fsqrt(s1[i]) * c2_inverse + eps)
    elif kind == RMSPROP:  # hyper: alpha, eps, weight_decay, momentum, centered
        alpha = <floating> hyper[0]
        one_minus = <floating> (1 - hyper[0])
        eps = <floating> hyper[1]
        wd = <floating> hyper[2]
        momentum = <floating> hyper[3]
        centered = hyper[4] != 0
        if centered:
            for i in range(n):  # the denominator first, then the step below
                gi = g[i] + wd * p[i]
                s0[i] = s0[i] * alpha + one_minus * gi * gi
                s1[i] = lerp(s1[i], gi, one_minus)
        else:
            for i in range(n):
                gi = g[i] + wd * p[i]
                s0[i] = s0[i] * alpha + one_minus * gi * gi
        if momentum > 0:
            for i in range(n):
                gi = g[i] + wd * p[i]
                avg = (fsqrt(s0[i] + (-1) * s1[i] * s1[i]) if centered else fsqrt(s0[i])) + eps
                s2[i] = s2[i] * momentum + gi / avg
                q[i] = p[i] + (-flr) * s2[i]
        else:
            for i in range(n):
                gi = g[i] + wd * p[i]
                avg = (fsqrt(s0[i] + (-1) * s1[i] * s1[i]) if centered else fsqrt(s0[i])) + eps
                q[i] = p[i] + (-flr) * gi / avg
    elif kind == SKLEARN_SGD:  # hyper: momentum, nesterov; state: velocity (scikit-learn's rule)
        momentum = <floating> hyper[0]
        nesterov = hyper[1] != 0
        for i in range(n):
            s0[i] = momentum * s0[i] - flr * g[i]
            q[i] = p[i] + (momentum * s0[i] - flr * g[i] if nesterov else s0[i])
    elif kind == SKLEARN_ADAM:  # hyper: beta1, beta2, eps (scikit-learn's rule)
        b2 = <floating> hyper[1]
        one_minus = <floating> (1 - hyper[0])
        one_minus2 = <floating> (1 - hyper[1])
        eps = <floating> hyper[2]
        step_size = <floating> (lr * sqrt(1 - pow(hyper[1], t)) / (1 - pow(hyper[0], t)))
        for i in range(n):
            s0[i] = <floating> hyper[0] * s0[i] + one_minus * g[i]
            s1[i] = b2 * s1[i] + one_minus2 * (g[i] * g[i])
            q[i] = p[i] + (-step_size) * s0[i] / (fsqrt(s1[i]) + eps)
    elif kind == RPROP:  # hyper: etaminus, etaplus, step_min, step_max; state: prev, step
        etaminus = <floating> hyper[0]
        etaplus = <floating> hyper[1]
        step_min = <floating> hyper[2]
        step_max = <floating> hyper[3]
        for i in range(n):
            gi = g[i]
            s = gi * s0[i]
            if s > 0:
                s = etaplus
            elif s < 0:
                s = etaminus
            else:
                s = 1
            s1[i] = s1[i] * s
            if s1[i] < step_min:
                s1[i] = step_min
            elif s1[i] > step_max:
                s1[i] = step_max
            if s == etaminus:  # iRprop-: no step (and no memory) after a sign change
                gi = 0
            if gi > 0:
                q[i] = p[i] + (-1) * s1[i]
            elif gi < 0:
                q[i] = p[i] + s1[i]
            else:
                q[i] = p[i]
            s0[i] = gi
