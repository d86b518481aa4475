"""recruit_reveal.settings: read once, and a bad value named the same way everywhere."""

from __future__ import annotations

import pytest

from recruit_reveal.errors import RecruitRevealError, VersionError
from recruit_reveal.settings import Settings, load_setting, load_settings


@pytest.mark.parametrize("env,name", [({"MODEL_VERSION": "../x"}, "MODEL_VERSION"),
                                      ({"MODEL_VERSION_RB": "v1"}, "MODEL_VERSION_RB"),
                                      ({"PORT": "eighty"}, "PORT")])
def test_bad_configuration_fails_fast_naming_the_variable(env, name):
    with pytest.raises(RecruitRevealError, match=name):
        load_settings(env)


def test_configuration_from_environment():
    config = load_settings({
        "MODEL_DIR": "/srv/models", "MODEL_VERSION": "1.0.0", "MODEL_VERSION_WR": "1.2.3",
        "HOST": "0.0.0.0", "PORT": "9000", "ALLOWED_ORIGINS": "https://a.example, http://b:3000",
        "ADMIN_TOKEN": "t"})
    assert str(config.model_dir) == "/srv/models"
    assert config.versions == {"qb": "1.0.0", "rb": "1.0.0", "wr": "1.2.3"}
    assert (config.host, config.port, config.admin_token) == ("0.0.0.0", 9000, "t")
    assert config.allowed_origins == ("https://a.example", "http://b:3000")
    defaults = load_settings({})
    assert defaults.versions == {"qb": "latest", "rb": "latest", "wr": "latest"}
    assert (defaults.port, defaults.admin_token, defaults.allowed_origins) == (8000, None, ())


def test_process_environment(monkeypatch):
    monkeypatch.setenv("MODEL_DIR", " /srv/models ")
    monkeypatch.setenv("MAX_BATCH", "12")
    monkeypatch.setenv("ADMIN_TOKEN", "")
    config = load_settings()
    assert (str(config.model_dir), config.max_batch, config.admin_token) == \
        ("/srv/models", 12, None)


def test_replace_validates_and_names_the_argument():
    base = load_settings({"MODEL_VERSION": "1.0.0"})
    changed = base.replace(versions={"QB": "2.0.0"}, admin_token="t")
    assert changed.versions == {"qb": "2.0.0", "rb": "1.0.0", "wr": "1.0.0"}
    assert changed.admin_token == "t" and base.admin_token is None
    with pytest.raises(VersionError, match="^argument MODEL_VERSION_QB: invalid version"):
        base.replace(versions={"qb": "1.0"})
    with pytest.raises(RecruitRevealError, match="^argument MAX_BATCH=0"):
        base.replace(max_batch=0)
    with pytest.raises(TypeError, match="models_directory"):
        base.replace(models_directory="x")


def test_one_setting_is_not_failed_by_another():
    env = {"MODEL_DIR": "/m", "PORT": "eighty"}
    assert str(load_setting("model_dir", env)) == "/m"
    with pytest.raises(RecruitRevealError, match="PORT"):
        load_setting("port", env)
    with pytest.raises(KeyError):
        load_setting("no_such_setting", env)


def test_registry_cli_and_api_report_a_bad_version_in_the_same_words(monkeypatch, capsys):
    from recruit_reveal.api.app import create_app
    from recruit_reveal.artifacts import registry
    from recruit_reveal.cli import main

    monkeypatch.setenv("MODEL_VERSION", "../x")
    messages = []
    for call in (registry.resolve_version, load_settings, create_app):
        with pytest.raises(VersionError) as info:
            call()
        messages.append(str(info.value))
    assert main(["serve"]) == 2  # fails before anything is served
    messages.append(capsys.readouterr().err.removeprefix("recruit-reveal: error: ").strip())
    assert len(set(messages)) == 1, messages
    assert messages[0].startswith("environment variable MODEL_VERSION: invalid version '../x'")
    assert messages[0].endswith("(or 'latest')")


def test_settings_are_frozen():
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        load_settings({}).port = 1  # type: ignore[misc]
    assert isinstance(load_settings({}), Settings)
