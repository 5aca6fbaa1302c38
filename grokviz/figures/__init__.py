"""Figure builders: pure functions from pandas DataFrames (or NumPy arrays) to Plotly figures.

One module per dashboard page, plus `style` (expert palette, export config, layout):
- `overview`: checkpoints and completeness; the one-paragraph findings summary.
- `memorization`: per-group loss bands; memorisation-step histogram with accuracy (Fig. 1).
- `sankey`: layer-to-layer expert flow with fixed node positions and colours.
- `projection`: the 2-D pathway map coloured by group, t*, loss or consistency.
- `grokking`: pair curves (Fig. 2), metric trends, per-layer distances, scatter, Table 1.
- `inspector`: one sample's tokens, routing heatmap, loss and pathway history.
- `health`: router saturation, co-activation, entropy and load.

Builders import numpy, pandas and plotly only: never Streamlit, DuckDB, torch or umap, so
every figure works the same in a notebook, a paper, the dashboard and `grokviz.report`.
"""
