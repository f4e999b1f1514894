"""Shared data builders for the engine tests (Fairlearn-style fixture module)."""

import numpy as np
import pandas as pd
from hypothesis import strategies as st


@st.composite
def classification_data(draw, max_rows: int = 300):
    """Random binary data with two sensitive features, covering the hard shapes:
    tiny groups, groups without positives, one-group data and heavy imbalance."""
    n = draw(st.integers(1, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = draw(st.sampled_from(["balanced", "imbalanced", "one_group", "no_positives_in_a_group", "tiny_groups"]))
    k1 = 1 if shape == "one_group" else draw(st.integers(1, 3))
    k2 = draw(st.integers(1, 4))
    if shape == "imbalanced":
        probs = np.array([0.97] + [0.03 / (k1 - 1)] * (k1 - 1)) if k1 > 1 else np.array([1.0])
        a = rng.choice(k1, n, p=probs)
    else:
        a = rng.integers(0, k1, n)
    b = rng.integers(0, k2, n)
    if shape == "tiny_groups" and n > 3:
        b[:2] = k2  # a group of two rows
    base_rate = draw(st.sampled_from([0.02, 0.3, 0.5, 0.9]))
    y = (rng.random(n) < base_rate).astype(np.int64)
    if shape == "no_positives_in_a_group":
        y[a == 0] = 0
    score = np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1)
    score = np.round(score, draw(st.sampled_from([2, 6])))  # ties, or nearly none
    pred = (score >= 0.5).astype(np.int64)
    groups = pd.DataFrame({"A": np.array(["a0", "a1", "a2"])[a], "B": np.array(["b0", "b1", "b2", "b3", "b4"])[b]})
    return y, pred, score, groups
