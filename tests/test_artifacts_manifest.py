"""Releases: one manifest per models folder, switched in one step, with an append-only history."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from recruit_reveal.artifacts import layout, manifest, registry, writer
from recruit_reveal.cli import main
from recruit_reveal.errors import ModelNotFoundError, ReleaseError, VersionError
from recruit_reveal.schema import POSITIONS

CTX = multiprocessing.get_context("fork")


@pytest.fixture
def folder(models_dir, trained_results):
    """qb, rb, wr 1.0.0 (promoted one by one at export) and qb 1.0.1, rb 1.0.1 (not promoted)."""
    for pos in ("qb", "rb"):
        writer.save_pipeline(trained_results[pos], models_dir, "1.0.1", promote=False)
    return models_dir


def manifest_doc(folder) -> dict:
    return json.loads((folder / manifest.MANIFEST).read_text())


def latest_targets(folder) -> dict[str, str]:
    return {pos: os.readlink(layout.metadata_path(folder, pos, "latest"))
            for pos in POSITIONS}


def test_an_older_folder_reads_as_one_release(folder):
    (folder / manifest.MANIFEST).unlink()
    state = manifest.read_state(folder)
    assert state.manifest is None and state.tag is None and manifest.current_tag(folder) is None
    assert [r.id for r in state.history] == [0]
    assert state.current.how == "derived" and state.current.versions == {
        pos: "1.0.0" for pos in POSITIONS}
    # the first change writes the derived release into the history, then its own
    made = registry.promote("qb", "1.0.1", folder, reason="better", by="ana")
    doc = manifest_doc(folder)
    assert made.version == "1.0.1"
    assert [r["id"] for r in doc["releases"]] == [0, 1] and doc["current"] == 1
    assert doc["releases"][1] | {"when": None} == {
        "id": 1, "when": None, "by": "ana", "how": "api", "action": "promote", "reason": "better",
        "versions": {"qb": "1.0.1", "rb": "1.0.0", "wr": "1.0.0"}, "previous": 0,
        "restores": None}


def test_promote_changes_one_position_and_derives_the_latest_files_after(folder):
    before = manifest.read_state(folder)
    registry.promote("rb", "1.0.1", folder, how="cli", reason="rb retrained")
    state = manifest.read_state(folder)
    assert len(state.history) == len(before.history) + 1
    assert state.current.versions == {**before.current.versions, "rb": "1.0.1"}
    assert state.current.previous == before.current.id
    assert state.tag != before.tag and manifest.current_tag(folder) == state.tag
    assert latest_targets(folder)["rb"] == layout.metadata_name("rb", "1.0.1")
    assert os.readlink(layout.artifact_path(folder, "rb", "latest")) == \
        layout.artifact_name("rb", "1.0.1")
    assert registry.load("rb", None, folder).version == "1.0.1"
    assert registry.latest_version("rb", folder) == "1.0.1"


def test_latest_follows_the_manifest_not_the_latest_files(folder):
    registry.release({"qb": "1.0.1", "rb": "1.0.1"}, folder, reason="both")
    # an old client's files out of step (say, restored from a backup) change nothing
    for name in (layout.artifact_path(folder, "qb", "latest"),
                 layout.metadata_path(folder, "qb", "latest")):
        os.unlink(name)
    assert registry.load("qb", None, folder).version == "1.0.1"
    assert not registry.load("qb", None, folder).fallback


def test_rollback_makes_the_previous_release_current_as_a_new_entry(folder):
    first = registry.release({"qb": "1.0.1", "rb": "1.0.1"}, folder, reason="weekly")
    second = registry.promote("qb", "1.0.0", folder, reason="qb regressed")
    back = registry.rollback(folder, reason="qb was fine", by="bo")
    assert back.action == "rollback" and back.restores == first.id and back.by == "bo"
    assert back.versions == first.versions
    assert back.previous == manifest.read_state(folder).get(back.id).previous > first.id
    assert second.version == "1.0.0" and back.id == manifest.read_state(folder).current.id
    assert registry.load("qb", None, folder).version == "1.0.1"
    # rolling back again goes further back (to what was current before `first`), not forth
    again = registry.rollback(folder, reason="further")
    assert again.restores == first.previous
    assert again.versions == manifest.read_state(folder).get(first.previous).versions
    ids = [r.id for r in manifest.read_state(folder).history]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_rollback_with_nothing_before_is_refused_and_writes_nothing(tmp_path, trained_results):
    writer.save_pipeline(trained_results["qb"], tmp_path, "1.0.0")
    before = (tmp_path / manifest.MANIFEST).read_bytes()
    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        registry.rollback(tmp_path)
    assert (tmp_path / manifest.MANIFEST).read_bytes() == before


def test_a_rollback_to_a_version_that_no_longer_loads_is_refused(folder):
    registry.promote("qb", "1.0.1", folder)
    layout.artifact_path(folder, "qb", "1.0.0").unlink()
    before = (folder / manifest.MANIFEST).read_bytes()
    with pytest.raises(Exception, match="1.0.0"):
        registry.rollback(folder)
    assert (folder / manifest.MANIFEST).read_bytes() == before


def test_a_manifest_that_does_not_parse_is_named_and_nothing_is_switched(folder):
    path = folder / manifest.MANIFEST
    for bad, match in [(b"{oops", "not valid JSON"),
                       (b'{"schema_version": 1, "current": 1, "releases": []}', "empty"),
                       (json.dumps({"schema_version": 1, "current": 1, "releases": [{
                           "id": 1, "when": "x", "by": "x", "how": "cli", "action": "promote",
                           "versions": {"qb": "../../etc"}}]}).encode(), "invalid version")]:
        path.write_bytes(bad)
        with pytest.raises(ReleaseError, match=rf"releases\.json.*{match}"):
            registry.promote("qb", "1.0.1", folder)
        assert path.read_bytes() == bad
        assert registry.latest_version("qb", folder) is None
        # the API keeps serving: latest is skipped with the reason, the newest valid loads
        loaded = registry.load("qb", None, folder)
        assert loaded.fallback and "releases.json" in loaded.reason


def test_bad_versions_and_hows_are_refused_before_anything_is_written(folder):
    before = (folder / manifest.MANIFEST).read_bytes()
    for bad in ("v1.0.1", "../x", "1.0"):
        with pytest.raises(VersionError):
            registry.promote("qb", bad, folder)
        with pytest.raises(VersionError):
            manifest.promote(folder, "qb", bad, how="cli")
    with pytest.raises(ReleaseError, match="how must be one of"):
        manifest.promote(folder, "qb", "1.0.1", how="magic")
    with pytest.raises(ModelNotFoundError, match="not in"):
        registry.promote("qb", "9.9.9", folder)
    assert (folder / manifest.MANIFEST).read_bytes() == before


def _promote_many(folder, position, versions, barrier):
    barrier.wait()
    try:
        for version in versions:
            manifest.promote(folder, position, version, how="api", reason=f"{position} {version}")
    except BaseException:  # noqa: BLE001 - reported through the exit code
        os._exit(1)
    os._exit(0)


def test_concurrent_promotes_are_all_recorded_and_none_is_lost(folder):
    """Four writers, 40 promotes: every one is an entry, in one order, and the last one wins."""
    before = len(manifest.read_state(folder).history)
    barrier = CTX.Barrier(4)
    jobs = [("qb", ["1.0.0", "1.0.1"] * 5), ("rb", ["1.0.1", "1.0.0"] * 5),
            ("qb", ["1.0.1", "1.0.0"] * 5), ("wr", ["1.0.0"] * 10)]
    procs = [CTX.Process(target=_promote_many, args=(folder, pos, vs, barrier))
             for pos, vs in jobs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    history = manifest.read_state(folder).history
    assert len(history) == before + 40
    ids = [r.id for r in history]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    for prev, entry in zip(history, history[1:], strict=False):
        assert entry.previous == prev.id
        if entry.id <= history[before - 1].id:
            continue
        changed = {p for p in POSITIONS if entry.versions.get(p) != prev.versions.get(p)}
        assert changed <= {entry.reason.split()[0]}  # each entry changed only its position
    current = history[-1].versions
    assert {pos: os.readlink(layout.metadata_path(folder, pos, "latest")) for pos in current} \
        == {pos: layout.metadata_name(pos, v) for pos, v in current.items()}


def test_history_cli(folder, capsys):
    assert main(["models", "promote", "qb", "1.0.1", "--models-dir", str(folder),
                 "--reason", "better qb", "--by", "ana"]) == 0
    assert main(["models", "promote", "rb", "1.0.1", "--models-dir", str(folder),
                 "--reason", "better rb"]) == 0
    assert main(["models", "rollback", "--models-dir", str(folder), "--reason", "rb broke"]) == 0
    capsys.readouterr()
    assert main(["models", "history", "--models-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "better qb" in out and "better rb" in out and "rb broke" in out
    assert "ana" in out and "rollback of" in out
    assert main(["models", "history", "--json", "--models-dir", str(folder)]) == 0
    doc = json.loads(capsys.readouterr().out)
    last = doc["releases"][-1]
    assert doc["current"] == last["id"] and last["how"] == "cli" and last["reason"] == "rb broke"
    assert last["versions"] == {"qb": "1.0.1", "rb": "1.0.0", "wr": "1.0.0"}
    assert main(["models", "list", "--models-dir", str(folder)]) == 0
    assert f"release {last['id']}" in capsys.readouterr().out


def test_cli_errors_name_the_problem(folder, capsys):
    (folder / manifest.MANIFEST).write_text("{broken")
    assert main(["models", "rollback", "--models-dir", str(folder)]) == 2
    assert "releases.json is not valid JSON" in capsys.readouterr().err
    assert main(["models", "promote", "qb", "v1.0.1", "--models-dir", str(folder)]) == 2
    assert "without the 'v'" in capsys.readouterr().err
