"""Simulated annealing over the weights (seed 004's optimizer list; Heaton's AIFH TrainAnneal)."""
import numpy as np

from .base import Optimizer, check_count, check_real


class Annealing(Optimizer):
    """Simulated annealing of the flat parameter vector, full batch.

    Temperatures fall geometrically from `start_temperature` to `stop_temperature` over
    fit's epochs (one temperature per epoch): T_k = T_0 (T_end / T_0)^(k / (K - 1)).
    At each temperature, `cycles` moves: a candidate p' = p + N(0, (step T_k / T_0)^2) in
    every parameter is accepted if it lowers the cost E = J, or else with probability
    exp(-(E' - E) / T_k) (Metropolis; greedy=True accepts improvements only, like Encog).
    The best point seen is restored at the end. Temperatures are in units of the cost J:
    the defaults suit costs of order 0.01-1. Use it alone, or as the start of gradient
    training: ``net.fit(X, Y, optimizer="annealing", epochs=20)`` then
    ``net.fit(X, Y, optimizer="adam")``.
    """

    defaults = ("start_temperature", "stop_temperature", "cycles", "step", "greedy")

    def __init__(self, start_temperature=0.01, stop_temperature=1e-5, cycles=100, step=0.1,
                 greedy=False):
        self.start_temperature = check_real(start_temperature, "start_temperature", low=0, low_open=True)
        self.stop_temperature = check_real(stop_temperature, "stop_temperature", low=0, low_open=True)
        if self.stop_temperature > self.start_temperature:
            raise ValueError("stop_temperature must not exceed start_temperature")
        self.cycles = check_count(cycles, "cycles")
        self.step = check_real(step, "step", low=0, low_open=True)
        self.greedy = bool(greedy)

    def temperatures(self, epochs):
        if epochs == 1:
            return np.array([self.start_temperature])
        return self.start_temperature * (self.stop_temperature / self.start_temperature) ** (
            np.arange(epochs) / (epochs - 1))

    def train(self, net, X, Y, session, epochs, weight_decay=0.0, rng=None, threads=None, **_):
        rng = np.random.default_rng() if rng is None else rng

        def cost(X, Y, weight_decay):
            with np.errstate(over="ignore", invalid="ignore"):  # a non-finite cost is handled
                return net._backend.cost(X, Y, weight_decay, threads=threads)
        params = net.params
        current = params.copy()
        energy = cost(X, Y, weight_decay)
        if not np.isfinite(energy):
            from ..history import TrainingDiverged
            raise TrainingDiverged(0, 0, float(energy))
        best, best_energy = current.copy(), energy
        try:
            for T in self.temperatures(epochs):
                scale = self.step * T / self.start_temperature
                for _ in range(self.cycles):
                    params[...] = current + rng.normal(0.0, scale, params.size)
                    candidate = cost(X, Y, weight_decay)
                    if not np.isfinite(candidate):
                        continue
                    if candidate < energy or (not self.greedy and
                                              rng.random() < np.exp(-(candidate - energy) / T)):
                        current[...] = params
                        energy = candidate
                        if energy < best_energy:
                            best[...], best_energy = current, energy
                params[...] = current
                if session.end_epoch(energy, T):
                    break
        finally:
            params[...] = best
