"""Oracle: the smoothing the Curves view draws, TensorBoard's debiased exponential moving
average, one value at a time in float64 exactly as the equations read:

    acc_t  = w · acc_(t-1) + (1 − w) · v_t        acc_(-1) = 0
    norm_t = w · norm_(t-1) + (1 − w)             norm_(-1) = 0
    shown_t = acc_t / norm_t                      (= acc_t / (1 − w^(t+1)))

w = 0 shows the raw values. A NaN or Inf makes every later value non-finite, as the
recurrence does.
"""
from __future__ import annotations


def debiased_ema(values, weight: float) -> list[float]:
    if weight <= 0:
        return [float(v) for v in values]
    acc = norm = 0.0
    out = []
    for v in values:
        acc = weight * acc + (1 - weight) * float(v)
        norm = weight * norm + (1 - weight)
        out.append(acc / norm)
    return out
