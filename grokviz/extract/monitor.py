"""A live pathway monitor for any training loop: metrics appended to the store as training runs.

Every N steps (or at every save) the monitor runs a fixed probe set of training samples through
the model with router hooks and appends, per group, the pathway distance, consistency, mean
cosine and loss to the run's `monitor` table, which the dashboard shows while training goes on.
Use `PathwayMonitor.log(step, model)` from a hand-written loop, or `MonitorCallback` inside a
`transformers.Trainer`. Scalars also go to TensorBoard or Weights & Biases when installed and
asked for. Torch layer: imports the capture code, never Streamlit.
"""

from __future__ import annotations

import sys

import pandas as pd
import torch

from grokviz import names
from grokviz.config import RouteSpan, check_run_name
from grokviz.extract.adapters import adapter_for, router_weights
from grokviz.extract.capture import RouterHooks, reduce_batch
from grokviz.extract.encode import encode_samples, pad_batch, token_batches
from grokviz.inputs.samples import validate_samples
from grokviz.metrics.consistency import consistency
from grokviz.metrics.distance import mean_pairwise_distance
from grokviz.metrics.onset import routing_onset, settled_step
from grokviz.metrics.pathways import pathway_strings
from grokviz.store.appended import append_table, read_appended
from grokviz.store.layout import Store

MONITOR_COLUMNS = [names.RUN, names.STEP, names.GROUP, "metric", "value"]


class PathwayMonitor:
    """Probe a model's routing during training and append the metrics to `store` under `run`.

    `probe` holds samples (sample_id, text, optional group and prompt), e.g. a few dozen
    training samples per group; it is tokenised once.
    """

    def __init__(self, store: Store, run: str, probe: pd.DataFrame, tokenizer, *, tau: float | None = 0.7,
                 top_k: int | None = None, distance: str = "char", max_pairs: int | None = 5_000,
                 token_budget: int = 8192, route_span: RouteSpan | str = RouteSpan.AUTO,
                 tensorboard_dir: str | None = None, wandb_run=None) -> None:
        self.store, self.run = store, check_run_name(run)
        self.probe = validate_samples(probe, "<probe>")
        self.encoded = encode_samples(self.probe, tokenizer, max_length=4096)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.tau, self.top_k, self.distance, self.max_pairs = tau, top_k, distance, max_pairs
        self.token_budget, self.route_span = token_budget, RouteSpan(route_span)
        self.writer = _tensorboard(tensorboard_dir)
        self.wandb_run = wandb_run
        self._registered = False
        self._reported: dict[tuple[str, str], int] = {}  # onsets already printed
        earlier = read_appended(store, self.run, "monitor")  # a resumed training run continues its history
        self.history = (earlier[~earlier["metric"].str.startswith("onset_")][MONITOR_COLUMNS] if len(earlier)
                        else pd.DataFrame(columns=MONITOR_COLUMNS))

    @torch.no_grad()
    def measure(self, model: torch.nn.Module) -> tuple[list[str], torch.Tensor, pd.Series]:
        """Pathways, distributions (n, layers, E) and losses of the probe set under `model`."""
        routers = adapter_for(model.config.model_type).routers(model)
        device = next(model.parameters()).device
        order, dists, losses = [], [], []
        was_training = model.training
        model.eval()
        with RouterHooks([m for _, m in routers]) as hooks:
            for batch in token_batches(range(len(self.probe)), self.encoded.lengths, self.token_budget):
                ids, attention, loss_mask, route = (torch.from_numpy(a).to(device) for a in
                                                    pad_batch(self.encoded, batch, self.pad_id, self.route_span))
                out = model(input_ids=ids, attention_mask=attention.long())
                result = reduce_batch(out.logits, hooks, ids, route, loss_mask, token_rows=[])
                order += batch
                dists.append(result.dist)
                losses.append(result.loss)
        model.train(was_training)
        rank = torch.tensor(order).argsort()
        dist = torch.cat(dists)[rank].numpy()  # shape: (n_probe, layers, E)
        return pathway_strings(dist, self.tau, self.top_k), dist, pd.Series(torch.cat(losses)[rank].numpy())

    def log(self, step: int, model: torch.nn.Module) -> pd.DataFrame:
        """Measure the probe set at `step` and append one row per (group, metric)."""
        adapter = adapter_for(model.config.model_type)
        if not self._registered:
            from grokviz.extract.loading import model_info

            self.store.write_run_info(self.run, model_info(model, adapter),
                                      {"monitor": {"tau": self.tau, "top_k": self.top_k,
                                                   "distance": self.distance, "probe": len(self.probe)}})
            self._registered = True
        pathways, dist, losses = self.measure(model)
        weights = router_weights(adapter.routers(model))
        c_value, mean_cos = consistency(dist, [w.numpy() for w in weights])
        frame = pd.DataFrame({names.GROUP: self.probe[names.GROUP], "pathway": pathways,
                              "consistency": c_value, "mean_cosine": mean_cos, names.LOSS: losses})
        rows = []
        for group, part in frame.groupby(names.GROUP, sort=True):
            estimate = mean_pairwise_distance(part["pathway"].tolist(), self.distance, self.max_pairs)
            values = {"distance": estimate.value, "consistency": part["consistency"].mean(),
                      "mean_cosine": part["mean_cosine"].mean(), names.LOSS: part[names.LOSS].mean(),
                      "distinct_pathways": float(part["pathway"].nunique())}
            rows += [{names.RUN: self.run, names.STEP: int(step), names.GROUP: group, "metric": k,
                      "value": float(v)} for k, v in values.items()]
        self.history = pd.concat([self.history, pd.DataFrame(rows, columns=MONITOR_COLUMNS)], ignore_index=True)
        rows += self._onsets(int(step))
        table = pd.DataFrame(rows, columns=MONITOR_COLUMNS)
        append_table(self.store, self.run, "monitor", table, part=f"step{int(step):09d}")
        self._scalars(step, table)
        return table

    def _onsets(self, step: int) -> list[dict]:
        """Routing-only onsets found so far (METHOD 11.5), one row per group and metric, printed the
        first time they are found: from the step where the group's probe loss made 90% of its drop,
        the detector of `grokviz.metrics.onset` on distance and mean layer cosine. No test set."""
        rows = []
        for group, part in self.history.groupby(names.GROUP, sort=True):
            wide = part.pivot_table(index=names.STEP, columns="metric", values="value").sort_index()
            start = settled_step(wide.index, wide[names.LOSS]) if names.LOSS in wide else None
            for metric in ("distance", "mean_cosine"):
                found = routing_onset(wide.index, wide[metric], start) if start is not None and metric in wide else None
                if found is None or found.step is None:
                    continue
                rows.append({names.RUN: self.run, names.STEP: step, names.GROUP: group,
                             "metric": f"onset_{metric}", "value": float(found.step)})
                if (group, metric) not in self._reported:  # the line once; later estimates go to the table only
                    self._reported[(group, metric)] = found.step
                    trend = "converging" if (found.direction < 0) == (metric == "distance") else "diverging"
                    print(f"grokviz monitor: {group}: pathways started {trend} at step {found.step:,} "
                          f"({metric.replace('_', ' ')}; routing only, no test set)", file=sys.stderr, flush=True)
        return rows

    def _scalars(self, step: int, table: pd.DataFrame) -> None:
        scalars = {f"grokviz/{r.group}/{r.metric}": r.value for r in table.itertuples()}
        if self.writer is not None:
            for tag, value in scalars.items():
                self.writer.add_scalar(tag, value, step)
        if self.wandb_run is not None:
            self.wandb_run.log(scalars, step=step)


def _tensorboard(folder: str | None):
    if folder is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: the store still gets every row
        return None
    return SummaryWriter(folder)


def monitor_callback(monitor: PathwayMonitor, every_n_steps: int | None = None):
    """A `transformers.TrainerCallback` that logs at every save and every N steps."""
    from transformers import TrainerCallback

    class MonitorCallback(TrainerCallback):
        """Runs the pathway monitor inside a `transformers.Trainer`."""

        def on_save(self, args, state, control, model=None, **kwargs):
            monitor.log(state.global_step, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if every_n_steps and state.global_step % every_n_steps == 0:
                monitor.log(state.global_step, model)

    return MonitorCallback()
