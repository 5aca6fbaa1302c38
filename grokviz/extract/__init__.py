"""Extraction: run MoE checkpoints over samples and record loss and routing into the store.

The only stage that loads a model (torch, transformers). `loading` opens a checkpoint and its
tokenizer, `adapters` finds each family's routers, `encode` tokenises and batches, `capture`
hooks the routers and reduces a batch, `run` is the resumable, sharded loop, `scaleout` fans
it out over Ray, and `monitor` logs pathway metrics from a live training loop.
Start at `grokviz.extract.run.extract`.
"""
