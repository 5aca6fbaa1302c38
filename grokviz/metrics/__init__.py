"""Pure computation of every metric in METHOD.md: numpy, pandas, scipy and rapidfuzz only.

Modules, in the order of the method:
- `pathways`: expert pathways from token-averaged router distributions (METHOD 2).
- `distance`: pairwise edit distance between pathways, exact or sampled (METHOD 3).
- `consistency`: cross-layer pathway consistency of one sample (METHOD 4).
- `memorization`: memorisation step t* and Pretrain@t groups (METHOD 5).
- `generalization`: generalisation step t# and Test@t groups (METHOD 6).
- `pairing`: one-to-one pairing of training groups with test groups (METHOD 7).
- `correlation`: metric-vs-accuracy correlations with step controls (METHOD 8).
- `health`: router saturation, co-activation, entropy, load, specialisation (METHOD 10).

Nothing here reads files, caches results, or imports torch, transformers, DuckDB or
Streamlit; inputs are arrays and outputs are arrays or DataFrames. This package exports
nothing itself: import the module you need (`from grokviz.metrics import pathways`).
"""
