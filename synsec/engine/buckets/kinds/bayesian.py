"""`type: bayesian` — after each pour, start from `bayesian_prior` and update it with every condition
(true: P(evil|c), P(benign|c); false: their complements); overflow when the posterior exceeds
`bayesian_threshold`. A `guillotine` condition, once true, is not evaluated again and counts as true.
Arithmetic is float32 step by step, as in CrowdSec's `UpdateBayesianProbability`."""

from __future__ import annotations

import struct

from synsec.engine.buckets.kinds import Kind, always_allow
from synsec.engine.buckets.views import leaky_view

__all__ = ["KIND", "update"]

_F32 = struct.Struct("f")


def f32(x: float) -> float:
    return _F32.unpack(_F32.pack(x))[0]


def update(prior: float, given_evil: float, given_benign: float) -> float:
    numerator = f32(given_evil * prior)
    denominator = f32(numerator + f32(given_benign * f32(1 - prior)))
    return f32(numerator / denominator) if denominator else 0.0


def after_pour(spec, state, event, key):
    leaky = leaky_view(spec, state, key)
    posterior, flags = f32(spec.bayesian_prior), state.flags
    for i, cond in enumerate(spec.bayesian_conditions):
        evil, benign = f32(cond.prob_given_evil), f32(cond.prob_given_benign)
        if cond.guillotine and flags >> i & 1:
            posterior = update(posterior, evil, benign)
            continue
        try:
            ret = cond.condition(event, leaky.Queue, leaky)
        except Exception:   # CrowdSec logs "bayesian update failed" and skips the condition
            continue
        if ret is True:
            posterior = update(posterior, evil, benign)
            flags |= 1 << i
        elif ret is False:
            posterior = update(posterior, f32(1 - evil), f32(1 - benign))
    return posterior > f32(spec.bayesian_threshold), flags


def check(s) -> list:
    errs = []
    if not s.bayesian_conditions:
        errs.append(("bayesian_conditions", "bayesian bucket must have bayesian conditions"))
    if not s.bayesian_prior or not 0 < s.bayesian_prior <= 1:
        errs.append(("bayesian_prior", "bayesian bucket must have a valid, non-zero prior (0 < p <= 1)"))
    if not s.bayesian_threshold or not 0 < s.bayesian_threshold <= 1:
        errs.append(("bayesian_threshold", "bayesian bucket must have a valid, non-zero threshold (0 < t <= 1)"))
    if s.capacity != -1:
        errs.append(("capacity", "bayesian bucket must have capacity -1"))
    if not s.leakspeed:
        errs.append(("leakspeed", "leakspeed can't be empty or zero for bayesian bucket"))
    return errs


KIND = Kind(name="bayesian", lifetime=lambda capacity, leakspeed: leakspeed, allow=always_allow,
            check=check, after_pour=after_pour)
