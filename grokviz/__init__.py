"""grokviz: monitor memorisation-to-generalisation in MoE LLM pretraining without a test set.

Stages (README, "Architecture"): extract (torch) -> store (Parquet + DuckDB) -> analyze
(pure NumPy) -> dashboard / report / CLI. Importing the package imports nothing heavy.
"""

__version__ = "0.1.0"
