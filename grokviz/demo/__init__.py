"""The embedded demo: a tiny OLMoE that memorises modular-arithmetic tasks early and generalises
each at its own time, built on the CPU with no downloads (`grokviz demo`).

`tasks` (equations, splits, tokens) and `findings` (what a run shows per task) are pure;
`train` is the torch model and loop; `build` trains, saves checkpoints, scores every equation,
then runs the same `extract` and `analyze` a user runs. EXPERIMENTS.md records how the default
configuration was chosen.
"""
