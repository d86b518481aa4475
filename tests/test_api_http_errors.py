"""http_errors: one table gives every project error its HTTP status and error body."""

import inspect
import json

import pytest

from recruit_reveal import errors
from recruit_reveal.api import http_errors


def _project_errors() -> list[type[errors.RecruitRevealError]]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, errors.RecruitRevealError)]


def test_every_project_error_has_a_status():
    missing = [cls.__name__ for cls in _project_errors() if cls not in http_errors.STATUS]
    assert not missing, f"add these to http_errors.STATUS: {missing}"
    assert all(400 <= status < 600 for status in http_errors.STATUS.values())


@pytest.mark.parametrize(("exc", "status"), [
    (errors.ModelUnavailableError("no model"), 503),
    (errors.VersionNotFoundError("no such version"), 404),
    (errors.ModelNotFoundError("no model file"), 404),
    (errors.VersionNotServableError("fails its test prediction"), 409),
    (errors.PromotionError("not promoted"), 409),
    (errors.ReleaseError("manifest does not parse"), 409),
    (errors.UnknownPositionError("te"), 404),
    (errors.RecordNotFoundError("none"), 404),
    (errors.SwitchDisabledError("off"), 403),
    (errors.AdminAuthError("token"), 401),
    (errors.DataValidationError("bad cell"), 400),
    (errors.StorageError("bucket unreachable"), 503),
])
def test_status_of_each_kind(exc, status):
    assert http_errors.status_of(exc) == status


def test_a_subclass_not_listed_takes_its_nearest_base():
    class Narrower(errors.VersionNotFoundError):
        pass

    class Unlisted(errors.RecruitRevealError):
        pass

    assert http_errors.status_of(Narrower("x")) == 404
    assert http_errors.status_of(Unlisted("x")) == 400


def test_error_body_names_the_field():
    response = http_errors.domain_error_response(
        errors.VersionNotFoundError("qb model version '9.9.9' not found (available: 1.0.0)"))
    assert response.status_code == 404
    assert json.loads(response.body) == {
        "detail": "version: qb model version '9.9.9' not found (available: 1.0.0)",
        "errors": [{"field": "version",
                    "message": "qb model version '9.9.9' not found (available: 1.0.0)"}]}
    assert "www-authenticate" not in response.headers


def test_error_body_without_a_field_and_headers():
    plain = http_errors.domain_error_response(errors.TrainingError("too few rows"))
    assert (plain.status_code, json.loads(plain.body)) == \
        (400, {"detail": "too few rows", "errors": []})
    auth = http_errors.domain_error_response(errors.AdminAuthError("a valid token is required"))
    assert auth.status_code == 401 and auth.headers["www-authenticate"] == "Bearer"
    assert json.loads(auth.body)["detail"] == "Authorization: a valid token is required"
