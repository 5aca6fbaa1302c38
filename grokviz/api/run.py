"""`Run`: everything grokviz knows about one run, as DataFrames and figures, without Streamlit.

The one place that turns store queries (`grokviz.store.queries`), cached analysis tables
(`grokviz.store.analyses`) and the pure frame builders (`grokviz.figures.frames`) into what a
reader wants: checkpoints, losses, accuracy, memorisation steps, pairs with their series, flow
links for a Sankey and its highways, one sample's routing, validity verdicts, the settings that
tell runs apart. The dashboard caches these methods, the report and the Python API call them.
A `Run` reads one snapshot of the store (the files complete when it was opened); open a new
one to see what was written since. Not thread-safe: one call at a time per `Run`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from grokviz import names
from grokviz.analysis.validity import verdict, verdict_table
from grokviz.api.figures import KINDS, figure
from grokviz.api.flows import Flows
from grokviz.api.story import story_frames
from grokviz.config import AnalyzeConfig, RouteSpan
from grokviz.config.base import readable, to_jsonable
from grokviz.figures import frames, style
from grokviz.figures import highways as highway_frames
from grokviz.metrics import pathways as pathway_metrics
from grokviz.store import analyses, integrity, queries
from grokviz.store.layout import Store
from grokviz.store.tables import Tables, read_samples_table

DEFAULT_TAU = 0.7  # METHOD 2, for pathways computed here when the run has no analysis yet


class Run:
    """One run of a store, read through a snapshot of its complete files."""

    figure_kinds = KINDS  # what `figure` can draw

    def __init__(self, store: Store, name: str) -> None:
        store.run_info(name)  # a clear error when the run does not exist
        self.store, self.name = store, name
        self.tables = Tables(store, name)
        self._flows = Flows(store, name)  # a few checkpoints' distributions, for per-sample flows

    def close(self) -> None:
        self.tables.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({str(self.store.root)!r}, {self.name!r})"

    # --- the run ---------------------------------------------------------------------------
    def model(self) -> dict[str, Any]:
        """The model shape: model_type, n_layers, n_experts, top_k, decoder_layers, ..."""
        return dict(self.store.run_info(self.name).get("model", {}))

    def layers(self) -> list[int]:
        """The decoder-layer index of each MoE layer, in depth order (labels: L0, L2, ... when
        layer 1 is dense); figures index MoE layers by ordinal and label them with these."""
        model = self.model()
        return [int(i) for i in model.get("decoder_layers") or range(int(model.get("n_layers", 0)))]

    def provenance(self) -> list[dict[str, Any]]:
        """The settings of every call that wrote to this run (extract, evaluate, demo, ...)."""
        return list(self.store.run_info(self.name).get("calls", []))

    def settings(self) -> AnalyzeConfig | None:
        """The settings of the latest analysis (None when the run has none)."""
        stored = analyses.latest_settings(self.store, self.name)
        if stored is None:
            return None
        known = {f.name for f in dataclasses.fields(AnalyzeConfig)}
        return AnalyzeConfig(**{k: v for k, v in stored.items() if k in known})

    def positions(self) -> str:
        """Which token positions the stored routing averages: the route span of the last extraction,
        with `auto` resolved (predicting for samples with a prompt, all for plain text)."""
        spans = [call["route_span"] for call in self.provenance() if "route_span" in call]
        span = spans[-1] if spans else RouteSpan.ALL.value
        if span != RouteSpan.AUTO.value:
            return span
        prompted = read_samples_table(self.store, self.name)["prompt"].fillna("").astype(bool)
        return "predicting" if prompted.all() else "all" if not prompted.any() else "predicting (prompted), all"

    def stamp(self) -> str:
        """The line every figure of this run carries: preset and settings that differ from it."""
        settings = self.settings()
        if settings is None:  # positions are known once something was extracted
            return f"{self.name}: no analysis yet" + (f"; positions {self.positions()}" if self.steps() else "")
        return f"{self.name}: {settings.stamp(self.positions())}"

    def demo_config(self) -> dict[str, Any] | None:
        """The DemoConfig of a `grokviz demo` run (its provenance, else models/RUN/demo.json); None otherwise."""
        recorded = [call["demo"] for call in self.provenance() if isinstance(call.get("demo"), dict)]
        return recorded[-1] if recorded else self.store.demo_config(self.name)

    def settings_record(self) -> dict[str, str]:
        """Everything that defines the run, flat and readable, for comparing runs side by side:
        `model.*` (shape), `demo.*` (a demo run's DemoConfig), the settings of other labelled calls
        (`monitor.*`, `synthetic.*`), `data.*` (checkpoints, samples, token positions) and `analysis.*`
        (the latest analysis' settings). Values are strings."""
        steps = self.steps()
        record = {f"model.{k}": readable(v) for k, v in self.model().items()}
        labelled = {source: values for call in self.provenance() if len(call) == 1
                    for source, values in call.items() if isinstance(values, dict)}  # the latest of each
        if (demo := self.demo_config()) is not None:
            labelled["demo"] = demo
        for source in sorted(labelled, key=lambda source: source != "demo"):
            record.update({f"{source}.{k}": readable(v) for k, v in labelled[source].items() if k != "run"})
        record.update({"data.checkpoints": str(len(steps)), "data.last step": str(steps[-1] if steps else "-"),
                       "data.samples": str(int(self.groups()["n"].sum())), "data.positions": self.positions()})
        settings = self.settings()
        if settings is not None:
            record.update({f"analysis.{k}": readable(v) for k, v in to_jsonable(settings).items() if k != "run"})
        return record

    def steps(self) -> list[int]:
        """Checkpoint steps with per-sample results, ascending."""
        return queries.steps(self.tables)

    def checkpoints(self) -> pd.DataFrame:
        """step, tokens, revision, shards (complete / expected), complete."""
        shards = self.store.complete_shards(self.name)
        expected = max([count for _, (_, count) in shards], default=1)
        done = pd.Series([s for s, _ in shards], dtype="int64").value_counts()
        frame = queries.checkpoint_rows(self.tables)
        frame["shards"] = [f"{int(done.get(s, 0))}/{expected}" for s in frame[names.STEP]]
        frame["complete"] = [int(done.get(s, 0)) >= expected for s in frame[names.STEP]]
        return frame

    def groups(self) -> pd.DataFrame:
        """group, split, n (samples)."""
        return queries.group_counts(self.tables)

    def samples(self) -> pd.DataFrame:
        """sample_id, group, split, n_tokens, has_tokens (per-token routing stored), by id."""
        return queries.sample_index(self.tables)

    def table(self, name: str) -> pd.DataFrame:
        """One table of the export contract (`grokviz.names.EXPORT_COLUMNS`), sorted."""
        return self.tables.table(name)

    def has_analysis(self, name: str) -> bool:
        """Whether the latest analysis has this table (without reading it)."""
        return analyses.analysis_file(self.store, self.name, name) is not None

    def analysis(self, name: str) -> pd.DataFrame | None:
        """One table of the latest analysis, or None when the run has none yet."""
        return analyses.read_analysis(self.store, self.name, name) if self.has_analysis(name) else None

    def figure(self, kind: str, **options: Any) -> go.Figure:
        """A dashboard figure by name (`Run.figure_kinds` lists them), e.g. `figure("sankey", step=300)`,
        stamped with the run's settings."""
        return style.stamp(figure(self, kind, **options), self.stamp())

    # --- losses, accuracy, memorisation -----------------------------------------------------
    def losses(self) -> pd.DataFrame:
        """step, sample_id, group, split, loss of every sample at every checkpoint."""
        return queries.losses(self.tables)

    def accuracy(self, split: str = names.Split.TEST.value) -> pd.DataFrame:
        """step, group, accuracy: the analysis' accuracy series if present, else per group."""
        series = self.analysis("accuracy_series")
        if series is not None and not series.empty:
            return series[series[names.SPLIT] == split][[names.STEP, names.GROUP, "accuracy"]].reset_index(drop=True)
        return queries.group_accuracy(self.tables, split)

    def memorization(self, eps: str | float = "auto", delta: float = 0.05) -> pd.DataFrame:
        """sample_id, group, t_star, eps of the training samples, recomputed with these settings."""
        return frames.memorization_frame(self.losses(), eps, delta)

    def pair_labels(self) -> list[str]:
        """"domain: Pretrain@p -> Test@q" of every pair of the latest analysis."""
        return frames.pair_labels(self.analysis("pairs"))

    def pair_series(self, label: str) -> dict[str, Any] | None:
        """Loss, accuracy, steps and metrics of one Pretrain@p -> Test@q pair (None if unknown)."""
        pairs = self.analysis("pairs")
        if pairs is None:
            return None
        rows = [r for r, name in zip(pairs.itertuples(index=False), frames.pair_labels(pairs)) if name == label]
        if not rows:
            return None
        pair = rows[0]
        accuracy = self._test_accuracy(str(pair.domain), str(pair.test_group))
        return frames.pair_series(pair, self.losses(), self.analysis("memorization"), accuracy,
                                  self.analysis("group_metrics"))

    def _test_accuracy(self, domain: str, test_group: str) -> pd.DataFrame:
        """step, accuracy of a Test@q group: stored series, else its items' correctness, else the domain's."""
        series = self.accuracy()
        for name in (test_group, f"{domain}/{test_group}"):
            if (series[names.GROUP].astype(str) == name).any():
                return series[series[names.GROUP].astype(str) == name][[names.STEP, "accuracy"]]
        items = self.analysis("generalization")
        t_gen = frames.label_step(test_group)
        if items is not None and t_gen is not None:
            chosen = items.loc[(items["t_hash"] == t_gen) & (items[names.GROUP].astype(str) == domain), names.ITEM_ID]
            by_item = queries.items_accuracy(self.tables, domain, tuple(chosen))
            if len(by_item):
                return by_item
        return series[series[names.GROUP].astype(str) == domain][[names.STEP, "accuracy"]]

    # --- is the signal real? (METHOD 11) -------------------------------------------------------
    def targets(self) -> pd.DataFrame:
        """What the validity checks judge, most memorised samples first: label, group (the metric's
        group), target (the accuracy it is judged against), kind (domain or pair), n (memorised samples)."""
        checked = self.analysis("validity")
        if checked is None or checked.empty:
            return pd.DataFrame(columns=["label", "group", "target", "kind", "n"])
        metrics = self.analysis("group_metrics")
        sizes = metrics.groupby(names.GROUP)["n_samples"].max() if metrics is not None else pd.Series(dtype=int)
        pairs = self.analysis("pairs")
        target_of = dict(zip(pairs["train_group"], pairs["test_group"])) if pairs is not None else {}
        labels = dict(zip(pairs["train_group"], frames.pair_labels(pairs))) if pairs is not None else {}
        rows = [{"label": labels.get(g, g), "group": g, "target": target_of.get(g, g),
                 "kind": "pair" if g in target_of else "domain", "n": int(sizes.get(g, 0))}
                for g in checked[names.GROUP].unique()]
        return pd.DataFrame(rows).sort_values(["n", "label"], ascending=[False, True], ignore_index=True)

    def validity(self, group: str) -> pd.DataFrame:
        """The `validity` rows of one group (metric, check, value, low, high, n)."""
        checked = self.analysis("validity")
        if checked is None:
            return pd.DataFrame(columns=["metric", "check", "value", "low", "high", "n"])
        return checked[checked[names.GROUP] == group].reset_index(drop=True)

    def verdicts(self, group: str) -> dict[str, str]:
        """metric -> the plain verdict line of one group (METHOD 11)."""
        rows = self.validity(group)
        return {metric: verdict(part, metric)[1] for metric, part in rows.groupby("metric", sort=False)}

    def verdict_table(self) -> pd.DataFrame | None:
        """group, metric, tracks, verdict, routing_onset, accuracy_onset: the validity verdict of every
        (group, metric) of the latest analysis with its onsets (-1: none). None without a validity table."""
        return verdict_table(self.analysis("validity"), self.analysis("onsets"))

    def metric_series(self, group: str, metric: str) -> pd.DataFrame:
        """step, value, low, high (95% band over samples) of one group's metric."""
        metrics = self.analysis("group_metrics")
        if metrics is None:
            return pd.DataFrame(columns=[names.STEP, "value", "low", "high"])
        part = metrics[(metrics[names.GROUP] == group) & (metrics["metric"] == metric)]
        columns = [c for c in (names.STEP, "value", "low", "high") if c in part]
        return part[columns].sort_values(names.STEP, ignore_index=True)

    def null_series(self, group: str, metric: str) -> pd.DataFrame:
        """step, baseline, draw, value of the null baselines of one group's metric."""
        table = self.analysis("null_metrics")
        if table is None:
            return pd.DataFrame(columns=[names.STEP, "baseline", "draw", "value"])
        return table[(table[names.GROUP] == group) & (table["metric"] == metric)].reset_index(drop=True)

    def onsets(self, group: str | None = None) -> pd.DataFrame:
        """Routing-only and accuracy onsets (-1: none) of one group, or of every group."""
        table = self.analysis("onsets")
        if table is None:
            return pd.DataFrame(columns=[names.GROUP, "metric", "routing_onset", "accuracy_onset", "start_step"])
        return table if group is None else table[table[names.GROUP] == group].reset_index(drop=True)

    def accuracy_of(self, group: str, split: str = names.Split.TEST.value) -> pd.DataFrame:
        """step, accuracy of one group (a domain, or a DOMAIN/Test@q group)."""
        series = self.accuracy(split)
        return series[series[names.GROUP].astype(str) == group][[names.STEP, "accuracy"]].reset_index(drop=True)

    def story(self, metric: str = "distance") -> dict[str, Any]:
        """What the Overview tells per domain: curves, marks, verdicts, findings rows, pair spans."""
        return story_frames(self, metric)

    def checkpoint_problems(self) -> list[str]:
        """One line per step with weights identical to another step's or a router jump (`grokviz doctor`'s rule)."""
        return [finding.message for finding in integrity.check_series(self.store, self.name)]

    def monitor(self) -> pd.DataFrame:
        """step, group, metric, value written by the live monitor during training."""
        return queries.monitor_rows(self.tables)

    # --- pathways and flows -------------------------------------------------------------------
    def token_links(self, step: int, ids: tuple[str, ...] | None = None, all_ranks: bool = False,
                    layers: tuple[int, int] | None = None) -> pd.DataFrame:
        """Sankey links of per-token flows (top-1, or all top-k weighted) at one checkpoint."""
        return queries.token_links(self.tables, step, ids, all_ranks, layers or self._all_layers())

    def distributions(self, step: int) -> tuple[pd.Series, np.ndarray]:
        """sample_id -> row, and the token-averaged router distributions (n, L, E) at a step."""
        return self._flows.distributions(step)

    def sample_links(self, step: int, ids: tuple[str, ...] | None = None, tau: float | None = None,
                     layers: tuple[int, int] | None = None) -> pd.DataFrame:
        """Sankey links of per-sample flows: argmax expert (tau None) or tau-kept experts, weighted."""
        return self._flows.sample_links(step, ids, tau, layers or self._all_layers())

    def group_links(self, step: int, group: str | None = None, tau: float | None = None,
                    layers: tuple[int, int] | None = None) -> pd.DataFrame:
        """`sample_links` of one group's samples (None: all): from the analysis when it has them."""
        def members() -> tuple[str, ...] | None:
            table = self.samples()
            return None if group is None else tuple(table.loc[table[names.GROUP].astype(str) == group, names.SAMPLE_ID])

        return self._flows.group_links(step, group, tau, layers or self._all_layers(), members)

    def pathways_at(self, step: int) -> pd.DataFrame:
        """sample_id, group, pathway at a step: the analysis table, else computed here (tau 0.7)."""
        if self.has_analysis("pathways"):  # DuckDB reads only this checkpoint's rows
            return analyses.read_analysis(self.store, self.name, "pathways", columns=[
                names.SAMPLE_ID, names.GROUP, "pathway"], where=(names.STEP, int(step))).reset_index(drop=True)
        index, dist = self.distributions(step)
        frame = pd.DataFrame({names.SAMPLE_ID: index.index,
                              "pathway": pathway_metrics.pathway_strings(dist, tau=DEFAULT_TAU)})
        return frame.merge(self.samples()[[names.SAMPLE_ID, names.GROUP]], on=names.SAMPLE_ID, how="left")

    def pathway_table(self) -> pd.DataFrame:
        """step, sample_id, pathway at every checkpoint: the analysis table, else computed (tau 0.7)."""
        stored = self.analysis("pathways")
        if stored is not None and not stored.empty:
            return stored[[names.STEP, names.SAMPLE_ID, "pathway"]]
        frames_ = [self.pathways_at(step).assign(step=step) for step in self.steps()]
        return pd.concat(frames_, ignore_index=True)[[names.STEP, names.SAMPLE_ID, "pathway"]] if frames_ else \
            pd.DataFrame(columns=[names.STEP, names.SAMPLE_ID, "pathway"])

    def highways(self, left: int, right: int, ids: tuple[str, ...] | None = None, n: int = 10) -> pd.DataFrame:
        """The n most common pathways of these samples (None: all) at either checkpoint: pathway, left,
        right (share of samples), change, trend (share at every checkpoint); the rest in one last row."""
        return highway_frames.highways(highway_frames.highway_shares(self.pathway_table(), ids), left, right, n)

    # --- one sample ----------------------------------------------------------------------------
    def search_samples(self, text: str, limit: int = 200) -> pd.DataFrame:
        """sample_id, group, text of samples whose id or text contains `text` (any case)."""
        return queries.search_samples(self.tables, text, limit)

    def sample_record(self, sample_id: str) -> dict[str, Any]:
        """The sample's row of `samples` (empty when unknown)."""
        return queries.sample_record(self.tables, sample_id)

    def sample_tokens(self, sample_id: str, step: int) -> pd.DataFrame:
        """pos, token, layer, expert, weight: the top-1 expert of every stored token and layer."""
        return queries.sample_tokens(self.tables, sample_id, step)

    def sample_routing(self, sample_id: str, step: int) -> pd.DataFrame:
        """layer, expert, weight: the sample's token-averaged router distribution at a step."""
        return queries.sample_routing(self.tables, sample_id, step)[[names.LAYER, names.EXPERT, names.WEIGHT]]

    def sample_losses(self, sample_id: str) -> pd.DataFrame:
        """step, loss of one sample."""
        return queries.sample_losses(self.tables, sample_id)

    def sample_pathways(self, sample_id: str) -> pd.DataFrame:
        """step, pathway of one sample at every checkpoint (stored, else computed with tau 0.7)."""
        if self.has_analysis("pathways"):
            own = analyses.read_analysis(self.store, self.name, "pathways", columns=[names.STEP, "pathway"],
                                         where=(names.SAMPLE_ID, sample_id))
            return own.sort_values(names.STEP, ignore_index=True)
        return frames.pathways_from_routing(queries.sample_routing(self.tables, sample_id), DEFAULT_TAU)

    def nearest(self, sample_id: str, step: int, n: int = 10) -> pd.DataFrame:
        """The n samples whose pathway at `step` is closest (Levenshtein) to this sample's."""
        return frames.nearest_pathways(self.pathways_at(step), sample_id, n)

    # --- the map ---------------------------------------------------------------------------------
    def map_points(self, color_by: str, eps: str | float = "auto", delta: float = 0.05) -> pd.DataFrame | None:
        """step, sample_id, x, y and the colour column at every projected checkpoint (None: no map)."""
        points = self.analysis("projection")
        if points is None or points.empty:
            return None
        points = points[[names.STEP, names.SAMPLE_ID, "x", "y"]]
        if color_by == names.GROUP:
            extra = self.samples()[[names.SAMPLE_ID, names.GROUP]]
        elif color_by == "t_star":
            stored = self.analysis("memorization")
            extra = stored if stored is not None else self.memorization(eps, delta)
        elif color_by == names.LOSS:
            extra = self.losses()
        else:
            stored = self.analysis("pathways")
            extra = stored if stored is not None else pd.DataFrame(columns=[names.STEP, names.SAMPLE_ID, color_by])
        return frames.color_points(points, color_by, extra)

    # --- helpers -------------------------------------------------------------------------------
    def _all_layers(self) -> tuple[int, int]:  # MoE layer ordinals, first and last
        return 0, max(int(self.model().get("n_layers", 1)) - 1, 0)
