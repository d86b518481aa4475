"""The curated public API: every exported name resolves, heavy modules load lazily."""

import subprocess
import sys

import recruit_reveal


def test_every_name_in_all_resolves():
    for name in recruit_reveal.__all__:
        assert getattr(recruit_reveal, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    try:
        recruit_reveal.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_does_not_import_papermill_or_fastapi():
    code = ("import sys, recruit_reveal; "
            "print(sorted(m for m in ('papermill', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_user_errors_share_one_root():
    for name in recruit_reveal.__all__:
        obj = getattr(recruit_reveal, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, recruit_reveal.RecruitRevealError), name
