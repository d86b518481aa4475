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
                       match=r"recruit_reveal_qb_pipeline_v1\.0\.0\.skops changed after it "
                             r"was signed"):
        signatures.verify_files(changed, bundle, SIG, [keys[0][1]])


def test_an_added_file_is_named(keys):
    signed_without_skops = {k: v for k, v in FILES.items() if not k.endswith(".skops")}
    bundle = signatures.sign_files(signed_without_skops, keys[0][0])
    with pytest.raises(UnsignedFileError, match=r"\.skops is not covered by"):
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
