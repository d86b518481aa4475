"""/metrics (recruit_reveal.api.observability): HTTP metrics per route template, predictions,
the served version, the release's problems, METRICS=0, and `serve --workers 2` adding up.

The in-process tests share prometheus_client's default registry, so they compare counts
before and after; the `serve` test reads a fresh server's totals.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from api_support import QB, SAMPLES, settings
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from test_api_rate_limits import one_client_per_worker
from test_api_serve import serving

from recruit_reveal import schema
from recruit_reveal.api import observability
from recruit_reveal.api.app import create_app
from recruit_reveal.artifacts.manifest import MANIFEST


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 if none)."""
    return sum(v for n, lab, v in samples(text) if n == name
               and all(lab.get(k) == want for k, want in labels.items()))


@pytest.fixture
def client(exported_models_dir):
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as c:
        yield c


def test_requests_are_counted_by_route_template_and_status_class(client):
    before = client.get("/metrics").text
    assert client.get("/models/qb").status_code == 200
    assert client.get("/models/rb").status_code == 200
    assert client.post("/predict", json={"position": "qb"}).status_code == 422
    assert client.get("/no/such/route").status_code == 404
    after = client.get("/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    name = "recruit_reveal_http_requests_total"

    def delta(**labels: str) -> float:
        return value(text, name, **labels) - value(before, name, **labels)

    assert delta(route="/models/{position}", status="2xx", method="GET") == 2
    assert delta(route="/predict", status="4xx", method="POST") == 1
    assert delta(route="unmatched", status="4xx") == 1
    assert not [lab for n, lab, _ in samples(text) if lab.get("route") in ("/models/qb",
                                                                           "/no/such/route")]
    latency = "recruit_reveal_http_request_duration_seconds_count"
    assert value(text, latency, route="/models/{position}") \
        - value(before, latency, route="/models/{position}") == 2
    assert value(text, "recruit_reveal_http_requests_in_flight", route="/metrics") == 1


def test_predictions_are_counted_by_position_version_and_division(client):
    before = client.get("/metrics").text
    batch = client.post("/predict/batch", json=SAMPLES * 4)
    one = client.post("/predict", json=QB)
    assert batch.status_code == one.status_code == 200
    text = client.get("/metrics").text
    name = "recruit_reveal_predictions_total"
    divisions = [p["predicted_division"] for p in batch.json()["predictions"]]
    divisions.append(one.json()["predicted_division"])
    positions = [a["position"] for a in SAMPLES * 4] + ["qb"]
    for position in {"qb", "rb", "wr"}:
        for division in set(divisions):
            expected = sum(1 for p, d in zip(positions, divisions, strict=True)
                           if (p, d) == (position, division))
            got = value(text, name, position=position, version="1.0.0", division=division) \
                - value(before, name, position=position, version="1.0.0", division=division)
            assert got == expected, (position, division)
    scoring = "recruit_reveal_scoring_seconds_count"
    assert value(text, scoring, position="qb") - value(before, scoring, position="qb") == 2
    # What-if scenarios are not predictions served.
    client.post("/what-if", json={"base_data": QB, "modifications": {"forty_yard_dash": 4.4}})
    again = client.get("/metrics").text
    assert value(again, name) == value(text, name)


def test_the_version_served_and_a_release_without_problem(client):
    text = client.get("/metrics").text
    for position in ("qb", "rb", "wr"):
        assert value(text, "recruit_reveal_served_version", position=position,
                     version="1.0.0") == 1
    assert value(text, "recruit_reveal_release_problem") == 0


def test_metrics_off_has_no_route_and_no_middleware(exported_models_dir):
    app = create_app(settings(metrics=False), models_dir=exported_models_dir)
    assert observability.MetricsMiddleware not in [m.cls for m in app.user_middleware]
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 404
        assert c.post("/predict", json=QB).status_code == 200
        assert "/metrics" not in c.get("/openapi.json").json()["paths"]


def _wait_for(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_a_release_that_cannot_be_followed_shows_in_health_and_metrics(models_dir):
    app = create_app(settings(release_poll_seconds=0.05), models_dir=models_dir)
    manifest = models_dir / MANIFEST
    good = manifest.read_bytes()
    with TestClient(app) as c:
        assert c.get("/health").json()["release"]["problem"] is None
        failed = "recruit_reveal_release_reloads_total"
        before = value(c.get("/metrics").text, failed, result="failed")
        # Replaced in one step, as every writer does: a poll never sees it half written.
        broken = manifest.with_name("broken.tmp")
        broken.write_text('{"releases": [')
        broken.replace(manifest)
        problem = _wait_for(lambda: c.get("/health").json()["release"]["problem"])
        assert "cannot follow the release" in problem and MANIFEST in problem
        time.sleep(0.3)  # several polls fail the same way: counted once
        text = c.get("/metrics").text
        assert value(text, "recruit_reveal_release_problem") == 1
        assert value(text, failed, result="failed") - before == 1
        assert c.post("/predict", json=QB).status_code == 200  # still serving what it has

        manifest.write_bytes(good)
        _wait_for(lambda: c.get("/health").json()["release"]["problem"] is None)
        assert value(c.get("/metrics").text, "recruit_reveal_release_problem") == 0


def test_input_counters_keep_their_labels_to_schema_names():
    name = "recruit_reveal_integrated_inputs_total"
    before = observability.generate_latest(observability.REGISTRY).decode()
    observability.record_integrated("qb", ["forty_yard_dash", "Jane Doe's 40"])
    observability.record_unusual("qb", ["height_inches"])
    text = observability.generate_latest(observability.REGISTRY).decode()
    for input_name in ("forty_yard_dash", "other"):
        assert value(text, name, position="qb", input=input_name) \
            - value(before, name, position="qb", input=input_name) == 1
    unusual = "recruit_reveal_unusual_inputs_total"
    assert value(text, unusual, input="height_inches") \
        - value(before, unusual, input="height_inches") == 1


def test_record_predictions_counts_each_division_once_per_group():
    name = "recruit_reveal_predictions_total"
    before = observability.generate_latest(observability.REGISTRY).decode()
    divisions = schema.DIVISIONS
    observability.record_predictions("wr", "9.9.9", np.array([0, 2, 2, 3, 2]), divisions)
    text = observability.generate_latest(observability.REGISTRY).decode()
    got = {lab["division"]: v for n, lab, v in samples(text)
           if n == name and lab["version"] == "9.9.9"}
    assert value(before, name, version="9.9.9") == 0
    assert got == {divisions[0]: 1, divisions[2]: 3, divisions[3]: 1}


def test_the_multiprocess_folder_is_emptied_and_set_for_the_workers(tmp_path):
    configured = tmp_path / "metrics"
    configured.mkdir()
    (configured / "counter_123.db").write_bytes(b"old run")
    with observability.multiprocess_folder(configured) as folder:
        assert folder == configured and list(folder.iterdir()) == []
        assert os.environ[observability.MULTIPROCESS_ENV] == str(folder)
    assert observability.MULTIPROCESS_ENV not in os.environ
    with observability.multiprocess_folder(None) as temporary:
        assert temporary.is_dir()
    assert not temporary.exists()


def test_gauges_of_exited_workers_are_dropped(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(gone.stdout)
    for pid in (dead, os.getpid()):
        (tmp_path / f"gauge_livemax_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    observability._forget_exited_workers(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead}.db", f"counter_{os.getpid()}.db", f"gauge_livemax_{os.getpid()}.db"])


# --------------------------------------------------------------------------- real `serve`

PREDICTIONS_SENT = 60


def test_serve_two_workers_add_up_in_metrics(models_dir, tmp_path):
    """`serve --workers 2`: requests split between the workers show as their total in
    /metrics, whichever worker answers; a broken manifest shows in both workers."""
    log = tmp_path / "server.log"
    with serving(models_dir, log, "--workers", "2", ACCESS_LOG="0",
                 RELEASE_POLL_SECONDS="0.1") as url, one_client_per_worker(url) as clients:
        pinned = list(clients.values())
        answers = [pinned[i % 2].post("/predict", json=SAMPLES[i % 3]).json()
                   for i in range(PREDICTIONS_SENT)]
        assert [a["model_version"] for a in answers] == ["1.0.0"] * PREDICTIONS_SENT
        for client in pinned:  # the same totals from either worker
            text = client.get("/metrics").text
            assert value(text, "recruit_reveal_http_requests_total", route="/predict",
                         status="2xx") == PREDICTIONS_SENT
            assert value(text, "recruit_reveal_predictions_total") == PREDICTIONS_SENT
            assert value(text, "recruit_reveal_predictions_total", position="qb") \
                == PREDICTIONS_SENT / 3
            assert value(text, "recruit_reveal_served_version", position="wr",
                         version="1.0.0") == 1
            assert value(text, "recruit_reveal_release_problem") == 0

        (models_dir / MANIFEST).write_text("not json")
        for client in pinned:
            problem = _wait_for(lambda c=client: c.get("/health").json()["release"]["problem"])
            assert "cannot follow the release" in problem
        text = httpx.get(f"{url}/metrics", timeout=10).text
        assert value(text, "recruit_reveal_release_problem") == 1
        assert value(text, "recruit_reveal_release_reloads_total", result="failed") == 2
