"""Step 5 of tracker.enrich.bursts: a ball admits this week's papers that stand out along its
Fisher discriminant against the earlier weeks, and only those."""
from __future__ import annotations

import numpy as np

from tracker.enrich import bursts
from tracker.linalg import unit_rows

DIM = 24


def _window(rng: np.random.Generator):
    """60 earlier papers and 10 ordinary papers of this week, all alike; a burst of 6 tight papers
    along axis 0 this week; an odd burst paper far from the core but along axis 0 too; an ordinary
    paper of this week. Returns (vectors, now, before, core rows, odd row, ordinary row)."""
    earlier = rng.normal(size=(60, DIM))
    ordinary = rng.normal(size=(10, DIM))
    core = rng.normal(size=(6, DIM)) * 0.3
    core[:, 0] += 4.0
    odd = rng.normal(size=(1, DIM))
    odd[0, 0] = 5.0
    vectors = unit_rows(np.vstack([earlier, ordinary, core, odd]))
    now = np.zeros(len(vectors), bool)
    now[60:] = True
    return vectors, now, ~now, np.arange(70, 76), 76, 60


def test_a_ball_admits_an_odd_paper_along_its_direction_and_few_ordinary_papers():
    odd_admitted, ordinary_admitted = 0, 0
    for seed in range(30):
        vectors, now, before, core, odd, _ = _window(np.random.default_rng(seed))
        near = now.copy()  # as if every paper of this week had a new nearest neighbour
        [ball] = bursts.admit(vectors, [core], now, before, near)
        assert set(core) <= set(ball)
        odd_admitted += odd in ball
        ordinary_admitted += len(set(ball) & set(range(60, 70)))
    assert odd_admitted == 30
    # the bar is the earlier papers' 0.99 quantile: an ordinary paper clears it about as rarely
    assert ordinary_admitted <= 0.03 * 30 * 10


def test_a_paper_without_a_new_nearest_neighbour_is_not_admitted():
    vectors, now, before, core, odd, _ = _window(np.random.default_rng(3))
    near = now.copy()
    near[odd] = False
    [ball] = bursts.admit(vectors, [core], now, before, near)
    assert odd not in ball


def test_a_chance_gathering_admits_nothing_and_two_bursts_stay_apart():
    rng = np.random.default_rng(3)
    vectors, now, before, core, odd, _ = _window(rng)
    # a second burst along axis 1, with its own odd paper
    other = rng.normal(size=(6, DIM)) * 0.3
    other[:, 1] += 4.0
    other_odd = rng.normal(size=(1, DIM))
    other_odd[0, 1] = 5.0
    vectors = np.vstack([vectors, unit_rows(np.vstack([other, other_odd]))])
    now = np.concatenate([now, np.ones(7, bool)])
    before = ~now
    second = np.arange(77, 83)
    first_ball, second_ball = bursts.admit(vectors, [core, second], now, before, now.copy())
    assert odd in first_ball and odd not in second_ball
    assert 83 in second_ball and 83 not in first_ball
    gathering = np.arange(60, 64)  # four ordinary papers of this week: earlier papers are like them
    [ball] = bursts.admit(vectors, [gathering], now, before, now.copy())
    assert np.array_equal(ball, gathering)
