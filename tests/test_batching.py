"""Training batches: each message once, similar lengths together, intents spread, sizes grow."""

import numpy as np
import pytest

from diet_sparse.training.batching import balanced_order, batch_size_for_epoch, epoch_batches


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
