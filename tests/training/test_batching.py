"""Training batches: each message once, similar lengths together, intents spread, sizes grow."""

import numpy as np
import pytest

from diet_sparse.training.batching import (
    balanced_order,
    batch_size_for_epoch,
    epoch_batches,
    learning_rate_for_epoch,
)


@pytest.mark.parametrize("max_rows", [None, 400, 60])
def test_epoch_batches_hold_every_message_once_and_fit_the_row_budget(max_rows):
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 40, size=1000)
    batches = epoch_batches(rng.permutation(1000), lengths, 32, rng, max_rows=max_rows)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert max(map(len, batches)) <= 32
    if max_rows is None:
        assert len(batches) == -(-1000 // 32)
        return
    for batch in batches:
        rows = len(batch) * lengths[batch].max()
        # equal parts: one part may hold a message more than the budget alone would allow
        assert rows <= max_rows + lengths[batch].max() or len(batch) == 1
    assert len(batches) > -(-1000 // 32)  # long batches were cut


def test_batches_group_messages_of_similar_length():
    rng = np.random.default_rng(1)
    lengths = rng.integers(2, 40, size=2048)
    batches = epoch_batches(rng.permutation(2048), lengths, 64, rng, batches_per_bucket=32)
    spread = np.mean([np.ptp(lengths[batch]) for batch in batches])
    assert spread < 3  # one bucket holds the whole epoch: batches are nearly uniform


def test_balanced_order_spreads_each_intent_evenly():
    labels = np.array([0] * 90 + [1] * 10)
    order = balanced_order(labels, np.random.default_rng(2))
    positions = np.flatnonzero(labels[order] == 1)
    assert np.diff(positions).max() <= 12  # one in ten, never clumped


def test_batch_size_grows_linearly_over_the_epochs():
    assert [batch_size_for_epoch(e, 5, [64, 256]) for e in range(5)] == [64, 112, 160, 208, 256]
    assert batch_size_for_epoch(0, 1, [64, 256]) == 64


def test_learning_rate_warms_up_then_decays_as_scheduled():
    def rates(schedule, warmup=0, epochs=6):
        return [learning_rate_for_epoch(e, epochs, 0.01, schedule, warmup) for e in range(epochs)]

    assert rates("constant") == [0.01] * 6
    assert rates("linear") == pytest.approx(
        [0.01, 0.00833, 0.00667, 0.005, 0.00333, 0.00167], abs=1e-5
    )
    cosine = rates("cosine")
    assert cosine[0] == 0.01 and all(a > b > 0 for a, b in zip(cosine, cosine[1:]))
    assert cosine[3] == pytest.approx(0.005)  # half-way down the half cosine
    warm = rates("cosine", warmup=2)
    assert warm[:3] == pytest.approx([0.005, 0.01, 0.01])  # warm-up, then the decay starts
    assert warm[3] < warm[2]
    with pytest.raises(ValueError, match="unknown learning_rate_schedule 'step'"):
        learning_rate_for_epoch(0, 6, 0.01, "step")
