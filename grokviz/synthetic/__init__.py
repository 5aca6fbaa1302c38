"""Synthetic inputs for tests, benchmarks and examples: tiny random MoE checkpoints of every
family (`tiny`), a word-level tokenizer (`wordlevel`), synthetic OLMoE-shaped runs of any size
(`runs`), and the small bundled sample and test files (`bundled`). Nothing is downloaded.
"""
