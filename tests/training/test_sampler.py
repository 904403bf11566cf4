"""Each rank reads its own shard of every global batch, and the shards do not depend on how it is split."""

import itertools

import pytest

from mu0.config import TrainConfig
from mu0.training.ranks import Shard
from mu0.training.sampler import micro_slot, rank_micro_batches


def _take(n, cfg, shard, start, count):
    return list(itertools.islice(rank_micro_batches(n, cfg, shard, start), count))


@pytest.mark.parametrize("start", [0, 5])
def test_two_ranks_read_disjoint_halves_of_what_one_rank_reads_with_twice_the_accumulation(start):
    n, steps = 37, 12  # an odd size: epochs end with a dropped remainder
    one = _take(n, TrainConfig(micro_batch=3, grad_accumulation=2), Shard(0, 1), start, 2 * steps)
    cfg = TrainConfig(micro_batch=3, grad_accumulation=1)
    ranks = [_take(n, cfg, Shard(r, 2), start, steps) for r in range(2)]
    for step in range(steps):
        a, b = ranks[0][step], ranks[1][step]
        assert not set(a) & set(b), step  # disjoint samples within a step
        assert a + b == one[2 * step] + one[2 * step + 1]  # together: the one-rank step, in slot order
    epochs = {epoch for batch in ranks[0] + ranks[1] for _, epoch in batch}
    assert len(epochs) > 1  # the comparison crossed an epoch boundary


def test_resuming_at_a_step_continues_the_same_sequence():
    cfg = TrainConfig(micro_batch=2, grad_accumulation=2)
    full = _take(20, cfg, Shard(1, 2), 0, 40)
    assert _take(20, cfg, Shard(1, 2), 7, 26) == full[14:]  # step 7 = micro-batch 14 of this rank


def test_draws_are_seeded_by_the_global_slot_so_splitting_does_not_change_them():
    one, two = TrainConfig(micro_batch=4, grad_accumulation=2), TrainConfig(micro_batch=4, grad_accumulation=1)
    split = [micro_slot(two, Shard(r, 2), 3, 0) for r in range(2)]
    assert [micro_slot(one, Shard(0, 1), 3, a) for a in range(2)] == split == [6, 7]
