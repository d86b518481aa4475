"""moto's S3 server on 127.0.0.1, started by the tests: no account, no network.

The endpoint reaches s3fs, boto3 and papermill through ``AWS_ENDPOINT_URL``,
which botocore honours; the credentials are dummies.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint():
    """The URL of a moto S3 server for this test session (the environment points at it)."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in (*ENV, "AWS_ENDPOINT_URL")}
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        import fsspec

        fsspec.filesystem("s3").clear_instance_cache()


@pytest.fixture
def bucket(s3_endpoint):
    """A fresh bucket; returns its s3:// URL."""
    import boto3

    name = f"rr-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}"
