"""Who is writing: a build's status and the traces writers leave decide whether pages refresh."""

import os
import time

from grokviz.store.activity import RECENT, activity, write_status
from grokviz.store.layout import Store, atomic_write_json


def _monitor_part(store: Store, run: str, age: float) -> None:
    """A monitor part file last written `age` seconds ago."""
    folder = store.run_dir(run) / "tables" / "monitor"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    path.write_bytes(b"x")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    os.utime(folder, (stamp, stamp))


def test_an_empty_store_has_no_writers(tmp_path):
    assert activity(Store(tmp_path / "s")) == {"builds": {}, "writing": [], "live": False}


def test_a_running_build_is_live_and_a_failed_one_is_reported_but_not_live(tmp_path):
    store = Store(tmp_path / "s")
    write_status(store, "running", stage="train", done=3, total=60)  # this process: alive
    write_status(store, "broken", stage="failed", error="boom")
    state = activity(store)
    assert set(state["builds"]) == {"running", "broken"} and state["live"]
    write_status(store, "running", stage="done")
    assert not activity(store)["live"]


def test_a_finished_builds_own_traces_are_not_a_writer(tmp_path):
    """The demo's monitor writes while it trains; once the build is done those files are history."""
    store = Store(tmp_path / "s")
    _monitor_part(store, "demo", age=5)
    write_status(store, "demo", stage="done")
    assert activity(store)["writing"] == []


def test_a_monitor_writing_after_the_build_is_a_writer_until_it_goes_quiet(tmp_path):
    store = Store(tmp_path / "s")
    status = write_status(store, "demo", stage="done")
    atomic_write_json(store.run_dir("demo") / "build.json", status | {"updated": time.time() - 30})
    _monitor_part(store, "demo", age=1)  # a user's monitor appends to the demo run after its build
    _monitor_part(store, "mine", age=1)  # and to a run without any build status
    assert activity(store)["writing"] == ["demo", "mine"] and activity(store)["live"]
    _monitor_part(store, "demo", age=RECENT + 5)
    _monitor_part(store, "mine", age=RECENT + 5)
    assert activity(store)["writing"] == [] and not activity(store)["live"]
