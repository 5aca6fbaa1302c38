"""Accuracy per checkpoint: score test items (`run`), import accuracy computed elsewhere
(`accuracy_import`), and drop likely contaminated items (`contamination`).

Scoring loads models through `grokviz.extract.loading`; code items run in `sandbox`.
Start at `grokviz.evaluate.run.evaluate`.
"""
