"""The store's run metadata under concurrent writers."""

from __future__ import annotations

import multiprocessing

from grokviz.store.layout import Store

WRITERS, CALLS = 6, 15
MODEL = {"model_type": "olmoe", "n_layers": 2, "n_experts": 4, "top_k": 2, "vocab_size": 50}


def _write_calls(root: str, writer: int) -> None:
    store = Store(root)
    for call in range(CALLS):
        store.write_run_info("r", MODEL, {"writer": writer, "call": call})


def test_concurrent_run_info_writers_lose_no_provenance_entry(tmp_path):
    Store(tmp_path).write_run_info("r", MODEL, {"writer": -1, "call": 0})
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_calls, args=(str(tmp_path), w)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    calls = Store(tmp_path, create=False).run_info("r")["calls"]
    assert len(calls) == 1 + WRITERS * CALLS
    assert {(c["writer"], c["call"]) for c in calls} == {(-1, 0)} | {(w, c) for w in range(WRITERS) for c in range(CALLS)}
