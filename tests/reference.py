"""Plain NumPy double-loop references, written as directly as the formulas read."""

import math

import numpy as np


def sq_dist_loop(x, y):
    out = np.zeros((len(x), len(y)))
    for i in range(len(x)):
        for j in range(len(y)):
            out[i, j] = sum((x[i, k] - y[j, k]) ** 2 for k in range(x.shape[1]))
    return out


def gauss_loop(x, y, sigmas):
    d2 = sq_dist_loop(x, y)
    out = np.zeros_like(d2)
    for i in range(d2.shape[0]):
        for j in range(d2.shape[1]):
            out[i, j] = sum(math.exp(-d2[i, j] / (2 * s * s)) for s in sigmas)
    return out


def mmd2_loop(x, y, k, estimator):
    n, m = len(x), len(y)
    if estimator == "linear":
        h = n // 2
        return (
            sum(
                k(x[2 * i], x[2 * i + 1])
                + k(y[2 * i], y[2 * i + 1])
                - k(x[2 * i], y[2 * i + 1])
                - k(x[2 * i + 1], y[2 * i])
                for i in range(h)
            )
            / h
        )
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if estimator == "biased" or i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if estimator == "biased" or i != j)
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    if estimator == "biased":
        return sxx / n**2 + syy / m**2 - 2 * sxy / (n * m)
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)


def gauss_pair(sigmas):
    def k(a, b):
        d2 = float(np.sum((a - b) ** 2))
        return sum(math.exp(-d2 / (2 * s * s)) for s in sigmas)

    return k
