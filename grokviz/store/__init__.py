"""The store: every path, file format, schema and SQL query of grokviz.

`layout` owns the folder (paths, atomic writes, schema version, shards); `schemas` the Arrow
schemas; `shards` encodes and decodes the per-checkpoint part files; `appended` the appendable
tables (accuracy, monitor, ...); `analyses` the cache of analysis results; `tables` the
read-only DuckDB views over complete files and the export; `queries` every query the
dashboard, `info` and the analysis run; `summary` what a store holds; `locks` the writer locks;
`doctor` (with `findings` and `integrity`) what `grokviz doctor` checks and cleans. No other
package imports DuckDB or writes SQL.
"""

from grokviz.store.layout import Store

__all__ = ["Store"]
