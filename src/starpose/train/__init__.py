"""Training: the MixSTE recipe loop, its configuration, loss, checkpoints of a run, logging,
signals and DistributedDataParallel."""
