"""Signed model versions: OpenSSF model signing over the files of one exported version.

A version's files (the pickle, the skops file and the metadata) are signed
together as one model with the ``model-signing`` package: a Sigstore bundle
holding a DSSE envelope over an in-toto statement whose subjects are the files
and their sha256 digests, signed with an elliptic-curve private key.  The
bundle is stored beside the files as ``recruit_reveal_{pos}_pipeline_v{X.Y.Z}.sig``.

``model-signing`` works on a folder on disk, and a models folder holds every
version of every position (and may be ``s3://``), so both signing and
verifying copy exactly the version's files, as read through the store, into a
private temporary folder and sign or verify that.  What is verified is
therefore the bytes the caller goes on to load, never a second read.

Keyless Sigstore signing needs the public Sigstore services and is not used here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import (
    SignatureError,
    SignatureMismatchError,
    SignatureMissingError,
    UnsignedFileError,
    UntrustedSignatureError,
)
from ..settings import load_setting
from ..storage.base import Store
from . import layout

#: File names of a key pair made by :func:`create_key_pair`.
PRIVATE_KEY_NAME = "signing_key.pem"
PUBLIC_KEY_NAME = "verify_key.pub"


def create_key_pair(folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new P-256 key pair into ``folder``: (private key, public key).

    The private key is readable by its owner only, and an existing key is never
    overwritten (a lost signing key would orphan every signature made with it).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    target = Path(folder).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    private_path, public_path = target / PRIVATE_KEY_NAME, target / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise SignatureError(f"{path} already exists; choose another folder or remove it")
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def _model_folder(root: str, files: Mapping[str, bytes]) -> Path:
    folder = Path(root) / "model"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _check_key(path: str | os.PathLike[str], what: str) -> Path:
    key = Path(path).expanduser()
    if not key.is_file():
        raise SignatureError(f"{what} {key} does not exist or is not a file")
    return key


def sign_files(files: Mapping[str, bytes], private_key: str | os.PathLike[str]) -> bytes:
    """The signature bundle (bytes) over ``files`` (name -> content), made with ``private_key``."""
    from model_signing import signing

    key = _check_key(private_key, "signing key")
    with tempfile.TemporaryDirectory(prefix="recruit-reveal-sign-") as root:
        folder = _model_folder(root, files)
        bundle = Path(root) / "bundle.sig"
        try:
            signing.Config().use_elliptic_key_signer(private_key=key).sign(folder, bundle)
        except ValueError as exc:
            raise SignatureError(f"cannot sign with {key}: {exc}") from None
        return bundle.read_bytes()


def verify_files(files: Mapping[str, bytes], signature: bytes | None, signature_name: str,
                 public_keys: Sequence[str | os.PathLike[str]]) -> Path:
    """Check that ``signature`` covers exactly ``files`` and was made by one of ``public_keys``.

    Returns the public key that verified it.  Raises one error per kind of failure:
    :class:`SignatureMissingError`, :class:`UntrustedSignatureError` (another key),
    :class:`SignatureMismatchError` (a file changed after signing, or a signed file is
    gone; the message names it) or :class:`UnsignedFileError` (a file the signature
    does not cover).
    """
    if signature is None:
        raise SignatureMissingError(
            f"{signature_name} is missing: this version is not signed, and VERIFY_KEY "
            "requires a signature (promote it with --signing-key, or re-export it with "
            "--signing-key)")
    keys = [_check_key(k, "verify key") for k in public_keys]
    if not keys:
        raise SignatureError("no verify key given")
    with tempfile.TemporaryDirectory(prefix="recruit-reveal-verify-") as root:
        folder = _model_folder(root, files)
        bundle = Path(root) / "bundle.sig"
        bundle.write_bytes(signature)
        for key in keys:
            try:
                _verify_with(folder, bundle, key)
                return key
            except ValueError as exc:
                if str(exc).startswith("Key mismatch"):
                    continue  # try the next trusted key
                if str(exc).startswith("Signature mismatch"):
                    # The envelope verified with this key, so its statement is trustworthy:
                    # compare the signed digests with the files to say which one differs.
                    raise _explain(files, signature, signature_name) from None
                raise SignatureError(f"{signature_name} is not a readable signature: "
                                     f"{exc}") from None
            except Exception as exc:  # a bundle that does not parse
                raise SignatureError(f"{signature_name} is not a readable signature: "
                                     f"{type(exc).__name__}: {exc}") from None
    raise UntrustedSignatureError(
        f"{signature_name} was made with another key: it matches none of the "
        f"{len(keys)} trusted key(s) in VERIFY_KEY ({', '.join(str(k) for k in keys)})")


def _verify_with(folder: Path, bundle: Path, key: Path) -> None:
    from model_signing import verifying

    verifying.Config().use_elliptic_key_verifier(public_key=key).verify(folder, bundle)


def signed_digests(signature: bytes) -> dict[str, str]:
    """File name -> sha256 as the bundle's in-toto statement lists them (not verified here)."""
    bundle = json.loads(signature)
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return {r["name"]: r["digest"] for r in statement["predicate"]["resources"]}


def _explain(files: Mapping[str, bytes], signature: bytes, signature_name: str) -> SignatureError:
    """What differs between the signed statement and the files, naming every file."""
    signed = signed_digests(signature)
    added = sorted(set(files) - set(signed))
    if added:
        return UnsignedFileError(f"{', '.join(added)} not covered by {signature_name}: "
                                 "added after signing")
    changed = sorted(name for name in files
                     if hashlib.sha256(files[name]).hexdigest() != signed[name])
    if changed:
        return SignatureMismatchError(f"{', '.join(changed)} changed after signing: the "
                                      f"sha256 no longer matches {signature_name}")
    missing = sorted(set(signed) - set(files))
    return SignatureMismatchError(f"{', '.join(missing) or 'a file'} is signed in "
                                  f"{signature_name} but missing")


def signing_key(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``explicit``, else ``$SIGNING_KEY``, else None (exports are not signed)."""
    return Path(explicit).expanduser() if explicit is not None else load_setting("signing_key")


def verify_keys() -> tuple[Path, ...]:
    """``$VERIFY_KEY``: the trusted public keys (empty: signatures are not checked)."""
    return tuple(load_setting("verify_key"))


def sign_version(store: Store, files: Mapping[str, bytes], position: str, version: str,
                 private_key: str | os.PathLike[str]) -> str:
    """Sign a version's ``files`` (name -> bytes) and publish the bundle create-only.

    Returns the signature's name; FileExistsError when the version is signed already
    (a signature is never replaced, like the files it covers).
    """
    name = layout.signature_name(position, version)
    store.create(name, sign_files(files, private_key))
    return name


def check_version(store: Store, files: Mapping[str, bytes], position: str, version: str,
                  public_keys: Sequence[str | os.PathLike[str]]) -> Path:
    """Verify the stored signature of a version against ``files``, the bytes about to be
    loaded; returns the key that verified it (see :func:`verify_files` for the errors)."""
    name = layout.signature_name(position, version)
    try:
        bundle: bytes | None = store.read(name)
    except FileNotFoundError:
        bundle = None
    return verify_files(files, bundle, store.display(name), public_keys)


def resign_version(store: Store, position: str, version: str,
                   private_key: str | os.PathLike[str]) -> str:
    """Replace a version's signature after an operator changed its files on purpose
    (``models migrate``): sign the pkl, skops file and metadata as they are now."""
    files = {}
    for name in (layout.artifact_name(position, version), layout.skops_name(position, version),
                 layout.metadata_name(position, version)):
        try:
            files[name] = store.read(name)
        except FileNotFoundError:
            continue
    name = layout.signature_name(position, version)
    store.remove(name)
    store.create(name, sign_files(files, private_key))
    return name
