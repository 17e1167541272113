"""`zoo predict` serves aligned chunks of sample indices, whole chunks per process."""

from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSamplerWrapper

from zoo.datamodules import EmbeddedMNISTDataModule


def test_predict_batches_are_aligned_chunks_and_each_rank_gets_whole_ones():
    loader = EmbeddedMNISTDataModule(batch_size=4, predict_size=11).predict_dataloader()
    single = [batch.tolist() for batch in loader]
    assert single == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    seen = []
    for rank in (0, 1):  # the sampler Lightning puts in front of a predict loader under DDP
        sampler = UnrepeatedDistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=rank, shuffle=False)
        seen += [loader.collate_fn([loader.dataset[i]]).tolist() for i in sampler]
    assert sorted(seen) == single  # the same chunks, split between the ranks, none cut or repeated
