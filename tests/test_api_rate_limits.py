"""Rate limits (recruit_reveal.api.rate_limits): per route, per client key, in memory or in a
real Redis shared by several workers; and the Host check (TRUSTED_HOSTS).

The `serve --workers 2` tests pin one keep-alive connection to each worker, so that
the requests are known to be split between the two processes.
"""

from __future__ import annotations

import contextlib
import logging
import time

import httpx
import pytest
from api_support import QB, SAMPLES, detail, settings
from fastapi.testclient import TestClient
from redis_support import flush, free_port, running_redis
from test_api_serve import serving

from recruit_reveal.api.app import create_app
from recruit_reveal.api.rate_limits import RateLimiter, RatePolicy, client_key, scope_warning
from recruit_reveal.errors import RecruitRevealError
from recruit_reveal.settings import load_settings


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real Redis server for this module's tests (installed with apt-get when missing)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def fresh_redis(redis_url):
    return flush(redis_url)


@pytest.fixture
def client(exported_models_dir):
    """The service with no rate limit and no TRUSTED_HOSTS (the defaults)."""
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as c:
        yield c


# --------------------------------------------------------------------------- settings


def test_settings_read_the_rate_limit_variables():
    s = load_settings({"RATE_LIMIT": "5/minute", "RATE_LIMIT_BATCH": "1/minute",
                       "RATE_LIMIT_WHATIF": "2 per minute",
                       "RATE_LIMITS": '{"/models": "off", "/models/{position}": "9/hour"}',
                       "RATE_LIMIT_STORAGE": "redis://cache:6379/2",
                       "RATE_LIMIT_KEY_HEADER": "X-Forwarded-For",
                       "TRUSTED_HOSTS": "api.example, *.example.org"})
    assert s.rate_limits == {"/models": "off", "/models/{position}": "9/hour"}
    assert s.rate_limit_storage == "redis://cache:6379/2"
    assert s.rate_limit_key_header == "X-Forwarded-For"
    assert s.trusted_hosts == ("api.example", "*.example.org")
    default = load_settings({})
    assert default.rate_limit_storage == "memory" and default.trusted_hosts == ("*",)
    assert default.rate_limits == {} and default.rate_limit_batch is None


@pytest.mark.parametrize(("name", "value", "says"), [
    ("RATE_LIMIT_STORAGE", "memcached://x:11211", "Redis URL"),
    ("RATE_LIMIT_STORAGE", "localhost:6379", "Redis URL"),
    ("RATE_LIMIT_BATCH", "lots", "rate such as"),
    ("RATE_LIMITS", "{not json", "not JSON"),
    ("RATE_LIMITS", '["/predict"]', "expected an object"),
    ("RATE_LIMITS", '{"predict": "1/minute"}', "starts with '/'"),
    ("RATE_LIMITS", '{"/predict": "often"}', "/predict: expected a rate"),
    ("RATE_LIMIT_KEY_HEADER", "X Forwarded", "header name"),
    ("TRUSTED_HOSTS", "api.*.example", "wildcard"),
])
def test_a_bad_rate_limit_setting_names_the_variable(name, value, says):
    with pytest.raises(RecruitRevealError, match=name) as raised:
        load_settings({name: value})
    assert says in str(raised.value)


def test_the_serve_warning_only_when_several_workers_count_alone():
    def warning(**env):
        return scope_warning(load_settings({k.upper(): v for k, v in env.items()}))

    assert "per worker" in warning(rate_limit="5/minute", workers="2")
    assert "up to 3 times" in warning(rate_limit_batch="5/minute", workers="3")
    assert warning(rate_limit="5/minute", workers="1") is None
    assert warning(workers="4") is None
    assert warning(rate_limit="5/minute", workers="2",
                   rate_limit_storage="redis://127.0.0.1:6379/0") is None


# --------------------------------------------------------------------------- which limit applies

def test_each_path_counts_against_its_route_limit_or_the_global_one():
    policy = RatePolicy(settings(rate_limit="5/minute", rate_limit_batch="1/minute",
                                 rate_limits={"/models/{position}": "off",
                                              "/predict/{version}": "2/minute"}),
                        exempt=["/health"])
    rule = policy.rule_for
    assert rule("/health") is None and rule("/models/qb") is None
    assert rule("/predict/batch").setting == "RATE_LIMIT_BATCH"  # not taken by the template
    assert rule("/predict/1.0.0").setting == "RATE_LIMITS[/predict/{version}]"
    assert rule("/predict").setting == rule("/models").setting == "RATE_LIMIT"
    assert rule("/what-if").setting == "RATE_LIMIT"  # no RATE_LIMIT_WHATIF given
    assert rule("/models/qb/versions").setting == "RATE_LIMIT"  # one segment per placeholder
    assert policy.own_limits() == {"/models/{position}": None, "/predict/{version}": "2/minute",
                                   "/predict/batch": "1/minute"}


def test_the_client_key_is_the_address_or_the_headers_first_entry():
    scope = {"client": ("10.0.0.9", 5000),
             "headers": [(b"x-forwarded-for", b" 203.0.113.7 , 10.0.0.1")]}
    assert client_key(scope, None) == "10.0.0.9"
    assert client_key(scope, b"x-forwarded-for") == "203.0.113.7"
    assert client_key(scope, b"x-real-ip") == "10.0.0.9"  # not sent: the address
    assert client_key({"headers": []}, None) == "unknown"


def test_per_route_limits_count_apart_from_the_global_one(exported_models_dir):
    app = create_app(settings(rate_limit="3/minute", rate_limit_batch="1/minute",
                              rate_limits={"/models": "off", "/models/{position}": "1/minute"}),
                     models_dir=exported_models_dir)
    with TestClient(app) as c:
        assert c.post("/predict/batch", json=SAMPLES).status_code == 200
        refused = c.post("/predict/batch", json=SAMPLES)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert detail(refused).startswith("rate limit: more than 1 per 1 minute on "
                                          "/predict/batch from this address")
        assert refused.json()["errors"][0]["expected"] == \
            "at most 1 per 1 minute (RATE_LIMIT_BATCH=1/minute)"
        # The batches did not count against RATE_LIMIT.
        assert [c.post("/predict", json=QB).status_code for _ in range(4)] == [200] * 3 + [429]
        assert c.post("/what-if", json={"base_data": QB, "modifications": {}}).status_code == 429
        assert all(c.get("/models").status_code == 200 for _ in range(6))  # "off"
        # A template is one count for every path it matches.
        assert [c.get(f"/models/{p}").status_code for p in ("qb", "rb")] == [200, 429]
        health = c.get("/health").json()["rate_limit"]
    assert health == {"limit": "3/minute", "routes": {
        "/models": None, "/models/{position}": "1/minute", "/predict/batch": "1/minute"},
        "storage": "memory", "scope": "per worker", "key": "client address", "problem": None}


def test_a_route_limit_alone_leaves_the_other_routes_unlimited(exported_models_dir):
    app = create_app(settings(rate_limit_whatif="2/minute"), models_dir=exported_models_dir)
    body = {"base_data": QB, "modifications": {"forty_yard_dash": 4.5}}
    with TestClient(app) as c:
        assert [c.post("/what-if", json=body).status_code for _ in range(3)] == [200, 200, 429]
        assert all(c.get("/models").status_code == 200 for _ in range(5))
        assert c.get("/health").json()["rate_limit"]["limit"] is None
        spec = c.get("/openapi.json").json()
    assert "429" in spec["paths"]["/what-if"]["post"]["responses"]


def test_no_limit_set_means_no_limiter_and_a_null_health_field(client):
    assert client.app.state.rate_limiter is None
    assert client.get("/health").json()["rate_limit"] is None
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "rate_limit" in schema["HealthResponse"]["properties"]
    assert set(schema["RateLimitHealth"]["properties"]) == {
        "limit", "routes", "storage", "scope", "key", "problem"}


def test_the_key_header_identifies_the_client_behind_a_proxy(exported_models_dir):
    app = create_app(settings(rate_limit="2/minute", rate_limit_key_header="X-Forwarded-For"),
                     models_dir=exported_models_dir)
    first = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
    with TestClient(app) as c:
        codes = [c.get("/models", headers=first).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = c.get("/models", headers=first)
        assert "from this client (X-Forwarded-For)" in detail(refused)
        # Another client behind the same proxy (same address) has its own count.
        assert c.get("/models", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200
        # Without the header, the address is the key.
        assert [c.get("/models").status_code for _ in range(3)] == [200, 200, 429]
        assert c.get("/health").json()["rate_limit"]["key"].startswith("header X-Forwarded-For")


# --------------------------------------------------------------------------- TRUSTED_HOSTS

def test_trusted_hosts_refuse_another_host_with_the_error_body(exported_models_dir):
    app = create_app(settings(trusted_hosts=("api.example", "*.example.org")),
                     models_dir=exported_models_dir)
    with TestClient(app, base_url="http://api.example") as c:
        assert c.get("/health/live").status_code == 200
        assert c.get("/models", headers={"Host": "eu.example.org"}).status_code == 200
        refused = c.get("/models", headers={"Host": "evil.example"})
        assert refused.status_code == 400
        assert detail(refused) == ("Host header: 'evil.example' is not a host this service "
                                   "answers for (TRUSTED_HOSTS)")
        assert c.post("/predict", json=QB, headers={"Host": "www.api.example"}).status_code == 400


def test_any_host_is_accepted_by_default(client):
    assert client.get("/models", headers={"Host": "anything.example"}).status_code == 200


# --------------------------------------------------------------------------- Redis

def test_two_apps_on_one_redis_share_the_count(exported_models_dir, fresh_redis):
    shared = settings(rate_limit="5/minute", rate_limit_storage=fresh_redis)
    with TestClient(create_app(shared, models_dir=exported_models_dir)) as a, \
            TestClient(create_app(shared, models_dir=exported_models_dir)) as b:
        codes = [(a if i % 2 else b).get("/models").status_code for i in range(10)]
        assert codes == [200] * 5 + [429] * 5
        health = a.get("/health").json()["rate_limit"]
    assert health["storage"] == "redis" and health["scope"] == "shared"
    assert health["problem"] is None


def test_an_unreachable_redis_lets_requests_through_with_one_warning(exported_models_dir,
                                                                     caplog):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(settings(rate_limit="1/minute", rate_limit_storage=nowhere),
                     models_dir=exported_models_dir)
    with caplog.at_level(logging.WARNING, "recruit_reveal.api.rate_limits"), TestClient(app) as c:
        assert [c.get("/models").status_code for _ in range(4)] == [200] * 4
        problem = c.get("/health").json()["rate_limit"]["problem"]
    assert "cannot be reached" in problem and "uncounted" in problem
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot be reached" in warnings[0]


def test_a_limiter_counts_again_once_redis_answers(fresh_redis, monkeypatch):
    from recruit_reveal.api import rate_limits

    limiter = RateLimiter(settings(rate_limit="2/minute", rate_limit_storage=fresh_redis))
    scope = {"type": "http", "path": "/models", "client": ("10.1.1.1", 1), "headers": []}
    real_hit = limiter.limiter.hit

    def broken(*args, **kwargs):
        raise rate_limits.StorageError(ConnectionError("down"))

    monkeypatch.setattr(limiter.limiter, "hit", broken)
    assert limiter._hit(limiter.policy.default, "10.1.1.1") is None and limiter.problem
    monkeypatch.setattr(limiter.limiter, "hit", real_hit)
    monkeypatch.setattr(rate_limits, "RETRY_STORAGE_SECONDS", 0.0)
    limiter._retry_at = 0.0
    import asyncio

    results = [asyncio.run(limiter.check(scope)) for _ in range(3)]
    assert results[:2] == [None, None] and results[2] is not None
    assert limiter.problem is None


# --------------------------------------------------------------------------- real `serve`

@contextlib.contextmanager
def one_client_per_worker(url: str, workers: int = 2, seconds: float = 30):
    """A keep-alive client pinned to each worker (found by the pid /health reports)."""
    clients: dict[int, httpx.Client] = {}
    try:
        deadline = time.monotonic() + seconds
        while len(clients) < workers:
            assert time.monotonic() < deadline, f"only workers {sorted(clients)} answered"
            client = httpx.Client(base_url=url, timeout=30)
            pid = client.get("/health").json()["worker"]["pid"]
            if pid in clients:
                client.close()
                time.sleep(0.05)
            else:
                clients[pid] = client
        yield clients
    finally:
        for client in clients.values():
            client.close()


def _twenty_predictions(clients: dict[int, httpx.Client]) -> list[httpx.Response]:
    """20 /predict requests, alternating between the workers, then each pin checked."""
    pinned = list(clients.items())
    answers = [pinned[i % len(pinned)][1].post("/predict", json=QB) for i in range(20)]
    for pid, client in pinned:
        assert client.get("/health").json()["worker"]["pid"] == pid  # still the same worker
    return answers


def test_serve_two_workers_share_a_redis_limit(exported_models_dir, fresh_redis, tmp_path):
    log = tmp_path / "server.log"
    with serving(exported_models_dir, log, "--workers", "2", ACCESS_LOG="0",
                 RATE_LIMIT="5/minute", RATE_LIMIT_STORAGE=fresh_redis) as url, \
            one_client_per_worker(url) as clients:
        answers = _twenty_predictions(clients)
        health = next(iter(clients.values())).get("/health").json()["rate_limit"]
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 5 and codes.count(429) == 15, codes
    assert codes == [200] * 5 + [429] * 15
    for refused in answers[5:]:
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert detail(refused).startswith("rate limit: more than 5 per 1 minute")
    assert health == {"limit": "5/minute", "routes": {}, "storage": "redis", "scope": "shared",
                      "key": "client address", "problem": None}
    assert "counted per worker" not in log.read_text()  # no warning: the counts are shared


def test_serve_two_workers_in_memory_count_per_worker_and_say_so(exported_models_dir,
                                                                  tmp_path):
    log = tmp_path / "server.log"
    with serving(exported_models_dir, log, "--workers", "2", ACCESS_LOG="0",
                 RATE_LIMIT="5/minute") as url, one_client_per_worker(url) as clients:
        answers = _twenty_predictions(clients)
        healths = [c.get("/health").json()["rate_limit"] for c in clients.values()]
    assert [a.status_code for a in answers] == [200] * 10 + [429] * 10  # 5 per worker
    assert all(h["scope"] == "per worker" and h["storage"] == "memory" for h in healths)
    text = log.read_text()
    assert "the rate limit is counted per worker (RATE_LIMIT_STORAGE=memory): with 2 workers" \
        in text
