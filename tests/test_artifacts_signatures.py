"""artifacts.signatures: real P-256 key pairs, OpenSSF model signing bundles, one error per failure."""

from __future__ import annotations

import json
import stat

import pytest

from recruit_reveal.artifacts import signatures
from recruit_reveal.errors import (
    SignatureError,
    SignatureMismatchError,
    SignatureMissingError,
    UnsignedFileError,
    UntrustedSignatureError,
)

FILES = {
    "recruit_reveal_qb_pipeline_v1.0.0.pkl": b"pickle bytes",
    "recruit_reveal_qb_pipeline_v1.0.0.skops": b"skops bytes",
    "recruit_reveal_qb_pipeline_v1.0.0.metadata.json": b'{"schema_version": 1}',
}
SIG = "recruit_reveal_qb_pipeline_v1.0.0.sig"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    first = signatures.create_key_pair(tmp_path_factory.mktemp("first"))
    second = signatures.create_key_pair(tmp_path_factory.mktemp("second"))
    return first, second


@pytest.fixture(scope="module")
def bundle(keys):
    return signatures.sign_files(FILES, keys[0][0])


def test_key_pair_private_key_is_private_and_never_overwritten(tmp_path):
    private, public = signatures.create_key_pair(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()
    before = private.read_bytes()
    with pytest.raises(SignatureError, match="already exists"):
        signatures.create_key_pair(tmp_path)
    assert private.read_bytes() == before


def test_the_bundle_is_a_sigstore_bundle_over_every_file(bundle):
    doc = json.loads(bundle)
    assert doc["mediaType"].startswith("application/vnd.dev.sigstore.bundle")
    digests = signatures.signed_digests(bundle)
    assert set(digests) == set(FILES)


def test_verify_with_the_right_key(keys, bundle):
    assert signatures.verify_files(FILES, bundle, SIG, [keys[0][1]]) == keys[0][1]


def test_key_rotation_any_trusted_key_verifies(keys, bundle):
    # The new key first, the old one still trusted: versions signed with either verify.
    assert signatures.verify_files(FILES, bundle, SIG, [keys[1][1], keys[0][1]]) == keys[0][1]
    newer = signatures.sign_files(FILES, keys[1][0])
    assert signatures.verify_files(FILES, newer, SIG, [keys[1][1], keys[0][1]]) == keys[1][1]


def test_another_key_is_refused(keys, bundle):
    with pytest.raises(UntrustedSignatureError, match="made with another key"):
        signatures.verify_files(FILES, bundle, SIG, [keys[1][1]])


def test_missing_signature_is_refused(keys):
    with pytest.raises(SignatureMissingError, match=f"{SIG} is missing"):
        signatures.verify_files(FILES, None, SIG, [keys[0][1]])


def test_a_changed_file_is_named(keys, bundle):
    changed = dict(FILES)
    changed["recruit_reveal_qb_pipeline_v1.0.0.skops"] = b"retrained elsewhere"
    with pytest.raises(SignatureMismatchError,
                       match=r"recruit_reveal_qb_pipeline_v1\.0\.0\.skops changed after "
                             r"signing"):
        signatures.verify_files(changed, bundle, SIG, [keys[0][1]])


def test_an_added_file_is_named(keys):
    signed_without_skops = {k: v for k, v in FILES.items() if not k.endswith(".skops")}
    bundle = signatures.sign_files(signed_without_skops, keys[0][0])
    with pytest.raises(UnsignedFileError, match=r"\.skops not covered by"):
        signatures.verify_files(FILES, bundle, SIG, [keys[0][1]])


def test_a_removed_file_is_named(keys, bundle):
    fewer = {k: v for k, v in FILES.items() if not k.endswith(".pkl")}
    with pytest.raises(SignatureMismatchError, match=r"\.pkl is signed in .* but missing"):
        signatures.verify_files(fewer, bundle, SIG, [keys[0][1]])


def test_garbage_signature_and_missing_key_are_clear(keys, tmp_path):
    with pytest.raises(SignatureError, match="not a readable signature"):
        signatures.verify_files(FILES, b"not a bundle", SIG, [keys[0][1]])
    with pytest.raises(SignatureError, match="verify key .* does not exist"):
        signatures.verify_files(FILES, b"{}", SIG, [tmp_path / "nope.pub"])
    with pytest.raises(SignatureError, match="signing key .* does not exist"):
        signatures.sign_files(FILES, tmp_path / "nope.pem")


# -- signed exports through the writer, the registry and the API's store ----------------

from test_artifacts_writer import make_frame, make_result  # noqa: E402

from recruit_reveal.api.store import ModelStore  # noqa: E402
from recruit_reveal.artifacts import formats, layout, registry, writer  # noqa: E402
from recruit_reveal.schema import POSITIONS  # noqa: E402
from recruit_reveal.storage import open_store  # noqa: E402

POS = "qb"


@pytest.fixture(scope="module")
def results():
    return [make_result(seed=seed) for seed in (0, 1)]


@pytest.fixture(params=["local", "s3"])
def folder(request, tmp_path):
    if request.param == "local":
        return tmp_path / "models"
    return request.getfixturevalue("bucket") + "/models"


def retrained_skops_with_fixed_hashes(models, version: str, other) -> None:
    """An attacker with write access: a skops model trained on other data, hashes fixed up."""
    import hashlib

    store = open_store(models)
    meta_name = layout.metadata_name(POS, version)
    doc = json.loads(store.read(meta_name))
    skops = formats.dump_skops(other.pipeline)
    store.write(layout.skops_name(POS, version), skops)
    doc["artifact_skops"]["sha256"] = hashlib.sha256(skops).hexdigest()
    doc["artifact_skops"]["size"] = len(skops)
    store.write(meta_name, json.dumps(doc, indent=2).encode())


def test_a_signed_export_verifies_and_a_tampered_one_never_loads(folder, keys, results,
                                                                  monkeypatch):
    (private, public), (_, other_public) = keys
    writer.save_pipeline(results[0], folder, "1.0.0", signing_key=private)
    writer.save_pipeline(results[0], folder, "1.0.1", promote=False)  # unsigned
    assert open_store(folder).exists(layout.signature_name(POS, "1.0.0"))
    assert not open_store(folder).exists(layout.signature_name(POS, "1.0.1"))

    monkeypatch.setenv("VERIFY_KEY", str(public))
    assert registry.load(POS, "1.0.0", folder).version == "1.0.0"
    with pytest.raises(SignatureMissingError, match=r"v1\.0\.1\.sig is missing"):
        registry.verify(POS, "1.0.1", folder)
    monkeypatch.setenv("VERIFY_KEY", str(other_public))
    with pytest.raises(UntrustedSignatureError):
        registry.verify(POS, "1.0.0", folder)
    monkeypatch.setenv("VERIFY_KEY", f"{other_public},{public}")  # a rotation: both trusted
    assert registry.load(POS, "1.0.0", folder).version == "1.0.0"

    retrained_skops_with_fixed_hashes(folder, "1.0.0", results[1])
    with pytest.raises(SignatureMismatchError,
                       match=r"metadata\.json, \S+v1\.0\.0\.skops changed after signing"):
        registry.verify(POS, "1.0.0", folder)
    monkeypatch.delenv("VERIFY_KEY")
    # Without VERIFY_KEY the hashes match: it is served, which is why the key exists.
    frame = make_frame(n=20, seed=3)[0]
    served = registry.load(POS, "1.0.0", folder).pipeline.predict_proba(frame)
    assert (served == results[1].pipeline.predict_proba(frame)).all()


def test_promote_signs_an_unsigned_version_once(tmp_path, keys, results, monkeypatch):
    (private, public), _ = keys
    writer.save_pipeline(results[0], tmp_path, "1.0.0", promote=False)
    monkeypatch.setenv("SIGNING_KEY", str(private))
    registry.promote(POS, "1.0.0", tmp_path, how="cli")
    signature = (tmp_path / layout.signature_name(POS, "1.0.0")).read_bytes()
    registry.promote(POS, "1.0.0", tmp_path, how="cli")  # signed already: kept as it is
    assert (tmp_path / layout.signature_name(POS, "1.0.0")).read_bytes() == signature
    monkeypatch.setenv("VERIFY_KEY", str(public))
    assert registry.load(POS, "latest", tmp_path).version == "1.0.0"


def test_the_api_keeps_its_model_when_a_release_is_not_signed(tmp_path, keys, results,
                                                              monkeypatch):
    (private, public), _ = keys
    for pos in POSITIONS:
        writer.save_pipeline(make_result(position=pos, seed=0), tmp_path, "1.0.0",
                             signing_key=private)
    monkeypatch.setenv("VERIFY_KEY", str(public))
    store = ModelStore(tmp_path, {pos: "latest" for pos in POSITIONS})
    store.load_all()
    assert store.get(POS).version == "1.0.0"

    writer.save_pipeline(results[1], tmp_path, "1.1.0")  # promoted, not signed
    store.follow()
    assert store.get(POS).version == "1.0.0"  # the worker keeps the model it had
    assert "v1.1.0.sig is missing" in store.release.problem



def test_cli_keys_then_promote_with_signing_key_and_health_says_checked(models_dir, tmp_path,
                                                                          monkeypatch, capsys):
    from fastapi.testclient import TestClient

    from recruit_reveal.api.app import create_app
    from recruit_reveal.cli import main

    monkeypatch.setenv("SIGNING_KEY", "")  # main() sets it: restored after the test
    assert main(["keys", "create", str(tmp_path / "keys")]) == 0
    private = tmp_path / "keys" / signatures.PRIVATE_KEY_NAME
    public = tmp_path / "keys" / signatures.PUBLIC_KEY_NAME
    for pos in POSITIONS:
        assert main(["models", "promote", pos, "1.0.0", "--models-dir", str(models_dir),
                     "--signing-key", str(private)]) == 0
        assert (models_dir / layout.signature_name(pos, "1.0.0")).exists()

    with TestClient(create_app(models_dir)) as client:
        body = client.get("/health").json()
    assert body["signatures"]["checked"] is False and "not checked" in body["signatures"]["note"]

    monkeypatch.setenv("VERIFY_KEY", str(public))
    with TestClient(create_app(models_dir)) as client:
        body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert body["signatures"] == {"checked": True, "keys": [public.name],
                                  "note": "only versions signed with one of these keys are "
                                          "served"}
