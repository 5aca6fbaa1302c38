"""The `analyze` stage: from a run's stored losses, routing and accuracy to every table the
paper reports (and the dashboard draws), cached in the store by a hash of the settings.

`run.py` is the only module here that reads or writes the store; the others are pure
functions of DataFrames and arrays built on `grokviz.metrics`. Start at `run.analyze`.
"""
