"""Where training rows come from: a CSV, Parquet or Delta table (local or ``s3://``), or SQL.

A *source spec* is one string, the form the CLI takes after ``--data`` and the
metadata records:

* a CSV file: ``data/training.csv``, ``s3://bucket/training.csv``;
* Parquet: a file (``x.parquet``) or a dataset folder (hive partitions included);
* a Delta table: a folder holding ``_delta_log``, pinned with ``@VERSION``
  (``table@3``) or ``@TIMESTAMP`` (``table@2026-12-01T00:00:00Z``);
* SQL: any SQLAlchemy URL plus ``#table=NAME`` or ``#query=SELECT...``
  (percent-encoded; the CLI's ``--table`` and ``--query`` write it).

``csv:``, ``parquet:``, ``delta:`` or ``sql:`` in front names the kind when the
path does not tell.  Every kind but CSV is read into an Arrow table and turned
into the text cells a CSV gives, so the same column mapping,
validation and quarantine read them all (:mod:`recruit_reveal.data.loading`);
:mod:`.source_cells` does that, and digests the validated rows.

Credentials never leave this module: :func:`parse` strips them from the spec
(user, password, and secret-looking URL parameters) and keeps the full URL in the
environment of this process and its kernels (:data:`SECRETS_ENV`) only; every
message names the stripped spec.  Nothing read here can run code: Parquet and
Delta are columnar data, and SQL runs read-only (PostgreSQL, SQLite) and is rolled back.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import DataValidationError, Problem

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("csv", "parquet", "delta", "sql")
#: Full URLs of the sources given with credentials, by their stripped spec (JSON).
SECRETS_ENV = "RECRUIT_REVEAL_SOURCE_SECRETS"
_FILE_SCHEMES = ("s3", "s3a", "file")
_SECRET_PARAM = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """One parsed source spec, credentials stripped.  ``pin`` is a Delta version or
    timestamp as written; ``table``/``query`` name what an SQL source reads."""

    kind: str
    uri: str
    pin: str | None = None
    table: str | None = None
    query: str | None = None

    @property
    def spec(self) -> str:
        """The canonical spec: what the metadata records and a retrain reads again."""
        text = f"{self.kind}:{self.uri}"
        if self.pin is not None:
            text += f"@{self.pin}"
        if self.table is not None:
            text += "#table=" + urllib.parse.quote(self.table, safe="")
        elif self.query is not None:
            text += "#query=" + urllib.parse.quote(self.query, safe="")
        return text

    @property
    def label(self) -> str:
        """How messages name the source (no credentials)."""
        if self.kind == "csv" and not _is_url(self.uri):
            return self.uri
        what = f" table {self.table}" if self.table else " query" if self.query else ""
        return f"{self.kind} {self.uri}{'@' + self.pin if self.pin else ''}{what}"

    @property
    def name(self) -> str:
        """A short name of the data: the file or table name."""
        if self.kind == "sql":
            return self.table or "query"
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    def fail(self, message: str, expected: str | None = None) -> DataValidationError:
        return DataValidationError(Problem(_scrub(message), self.label, expected=expected))


def _is_url(text: str) -> bool:
    return "://" in text


def _kind_prefix(text: str) -> tuple[str | None, str]:
    head, sep, rest = text.partition(":")
    if sep and head.lower() in KINDS and not rest.startswith("//"):
        return head.lower(), rest
    return None, text


def parse(text: str, *, table: str | None = None, query: str | None = None) -> Source:
    """A spec (or a plain path) as a :class:`Source`, credentials stripped and kept aside.

    ``table``/``query`` apply to an SQL source whose spec names neither.
    """
    kind, rest = _kind_prefix(str(text).strip())
    scheme = rest.split("://", 1)[0].lower() if _is_url(rest) else ""
    if kind == "sql" or (kind is None and scheme and scheme not in _FILE_SCHEMES):
        return _parse_sql(rest, table, query)
    if table or query:
        raise DataValidationError(Problem("--table and --query are for SQL sources only",
                                          _strip_url(rest)))
    location, pin = _split_pin(rest)
    location = _strip_url(location)
    if kind is None:
        kind = "delta" if pin is not None else _kind_of(location)
    if pin is not None and kind != "delta":
        raise DataValidationError(Problem(f"@{pin} pins a Delta table version; a {kind} "
                                          "source has no versions", location))
    if not _is_url(location):
        location = os.path.abspath(os.path.expanduser(location))
    return Source(kind, location, pin)


#: What may follow ``@``: a version number or an ISO date/time (so ``file@2.csv`` is a name).
_PIN = re.compile(r"\d+|\d{4}-\d\d-\d\d([T ][0-9:.]+)?(Z|[+-]\d\d:?\d\d)?")


def _split_pin(text: str) -> tuple[str, str | None]:
    head, sep, pin = text.rpartition("@")
    if sep and head and _PIN.fullmatch(pin):
        return head, pin
    return text, None


def _kind_of(location: str) -> str:
    lower = location.lower().rstrip("/")
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    fs, path = _filesystem(Source("csv", location))
    try:
        if fs.isdir(path):
            folder = path.rstrip("/")
            if fs.exists(f"{folder}/_delta_log"):
                return "delta"
            if any(str(p).endswith((".parquet", ".pq")) for p in fs.find(folder)):
                return "parquet"
    except Exception:  # noqa: BLE001 - unreachable: reading it says so, naming the source
        return "csv"
    return "csv"  # a folder of neither: the CSV reader says it is a folder


def _parse_sql(url: str, table: str | None, query: str | None) -> Source:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    base, _, fragment = url.partition("#")
    # unquote, not parse_qs: a '+' in a query is a plus, not a space.
    what, _, value = fragment.partition("=")
    if what == "table":
        table = urllib.parse.unquote(value)
    elif what == "query":
        query = urllib.parse.unquote(value)
    try:
        full = make_url(base)
    except (ArgumentError, ValueError):
        raise DataValidationError(Problem("not a database URL", _strip_url(base),
                                          expected="dialect://user@host/database")) from None
    # URL.set(password=None) would leave the password: None there means "unchanged".
    stripped = full._replace(username=None, password=None).set(
        query={k: v for k, v in full.query.items() if not _SECRET_PARAM.search(k)})
    uri = stripped.render_as_string(hide_password=False)
    if (table is None) == (query is None):
        raise DataValidationError(Problem("an SQL source needs --table NAME or --query "
                                          "\"SELECT ...\" (one of them)", uri))
    if uri != full.render_as_string(hide_password=False):
        _keep_secret(uri, full.render_as_string(hide_password=False))
    return Source("sql", uri, None, table, query)


def _strip_url(text: str) -> str:
    """``text`` without a URL's user, password and secret-looking parameters."""
    if not _is_url(text):
        return text
    parts = urllib.parse.urlsplit(text)
    netloc = parts.netloc.rpartition("@")[2]
    query = urllib.parse.urlencode([(k, v) for k, v in urllib.parse.parse_qsl(parts.query)
                                    if not _SECRET_PARAM.search(k)])
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _keep_secret(stripped: str, full: str) -> None:
    # The environment, not the notebook parameters: kernels inherit it, records never show it.
    secrets = json.loads(os.environ.get(SECRETS_ENV) or "{}")
    secrets[stripped] = full
    os.environ[SECRETS_ENV] = json.dumps(secrets)


def _full_url(source: Source) -> str:
    return str(json.loads(os.environ.get(SECRETS_ENV) or "{}").get(source.uri, source.uri))


_SCRUB = re.compile(r"(\w+://)[^/@\s]*@")


def _scrub(message: str) -> str:
    """A message without any user:password@ of a URL, and with every known secret masked."""
    message = _SCRUB.sub(r"\1", str(message))
    for full in json.loads(os.environ.get(SECRETS_ENV) or "{}").values():
        password = urllib.parse.urlsplit(full).password
        if password:
            message = message.replace(password, "***")
    return " ".join(message.split())


def resolve_local(text: str, absolute: Any) -> str:
    """``text`` with a local path made absolute by ``absolute`` (a URL is left alone)."""
    kind, rest = _kind_prefix(str(text))
    if _is_url(rest):
        return str(text)
    location, pin = _split_pin(rest)
    path = str(absolute(location))
    return f"{kind + ':' if kind else ''}{path}{'@' + pin if pin else ''}"


# --------------------------------------------------------------------------- reading


def _filesystem(source: Source) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    return url_to_fs(source.uri)


def read_csv_bytes(source: Source) -> bytes:
    """The bytes of a CSV source (local, or through fsspec for a URL)."""
    try:
        fs, path = _filesystem(source)
        if not fs.exists(path):
            raise source.fail("file not found", "a path to a training CSV")
        if fs.isdir(path):
            raise source.fail("is a folder, not a file", "a path to a training CSV")
        return bytes(fs.cat_file(path))
    except DataValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - network and permission errors, named once
        raise source.fail(f"cannot be read ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return _scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


def read_arrow(source: Source, limit: int | None = None) -> tuple[pa.Table, str | None]:
    """A Parquet, Delta or SQL source as an Arrow table (its first ``limit`` rows, or all),
    and the version read (Delta)."""
    readers = {"parquet": _read_parquet, "delta": _read_delta, "sql": _read_sql}
    try:
        table, version = readers[source.kind](source, limit)
    except DataValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - the library's message, credentials scrubbed
        raise source.fail(f"cannot be read ({_reason(exc)})") from None
    if table.num_rows == 0:
        raise source.fail("the source holds no rows", "at least one row")
    return table, version


def _read_parquet(source: Source, limit: int | None) -> tuple[pa.Table, None]:
    import pyarrow.dataset as ds

    fs, path = _filesystem(source)
    if not fs.exists(path):
        raise source.fail("file or folder not found", "a Parquet file or dataset folder")
    dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
    return (dataset.to_table() if limit is None else dataset.head(limit)), None


def delta_storage_options() -> dict[str, str]:
    """What delta-rs needs beyond the AWS environment: an http endpoint (moto, MinIO) is
    allowed explicitly, and the endpoint is taken from ``AWS_ENDPOINT_URL``."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return {}
    options = {"AWS_ENDPOINT_URL": endpoint}
    if endpoint.startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    return options


def _delta_table(source: Source) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    options = delta_storage_options() if _is_url(source.uri) else None
    try:
        return DeltaTable(source.uri, storage_options=options)
    except TableNotFoundError:
        raise source.fail("no Delta table here", "a folder holding _delta_log") from None


def _read_delta(source: Source, limit: int | None) -> tuple[pa.Table, str]:
    table = _delta_table(source)
    if source.pin is not None:
        _load_pin(table, source)
    rows = table.to_pyarrow_table() if limit is None else table.to_pyarrow_dataset().head(limit)
    return rows, str(table.version())


def _load_pin(table: Any, source: Source) -> None:
    import datetime as dt

    pin = str(source.pin)
    try:
        if pin.isdigit():
            table.load_as_version(int(pin))
        else:
            when = dt.datetime.fromisoformat(pin.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            table.load_as_version(when)
    except ValueError:
        raise source.fail(f"@{pin} is neither a version number nor an ISO timestamp") from None
    except Exception as exc:  # noqa: BLE001 - delta-rs names a missing version its own way
        raise source.fail(f"version @{pin} does not exist ({_reason(exc)})",
                          "a version the table's history holds") from None


def current_delta_version(source: Source) -> str:
    """The version an unpinned Delta table is at now (pinned before training)."""
    try:
        return str(_delta_table(source).version())
    except DataValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreachable bucket, named once
        raise source.fail(f"cannot be read ({_reason(exc)})") from None


def _read_sql(source: Source, limit: int | None) -> tuple[pa.Table, None]:
    import pyarrow as pa
    import sqlalchemy as sa

    engine = sa.create_engine(_full_url(source), poolclass=sa.pool.NullPool)
    try:
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as exc:
            raise source.fail(f"cannot connect ({_reason(exc.orig or exc)})") from None
        with connection as conn:
            _read_only(conn)
            if source.table is not None:
                found = sa.Table(source.table, sa.MetaData(), autoload_with=conn)
                # A table has no order of its own; its primary key gives one, so a retrain
                # reads the rows in the order they trained in (a query says ORDER BY).
                statement: Any = sa.select(found).order_by(*found.primary_key.columns)
            else:
                statement = sa.text(str(source.query))
            if limit is not None:
                statement = sa.select(sa.text("*")).select_from(
                    statement.subquery() if source.table is not None
                    else statement.columns().subquery()).limit(limit)
            result = conn.execute(statement)
            names = [str(k) for k in result.keys()]
            rows = result.fetchall()
            conn.rollback()
    except sa.exc.NoSuchTableError:
        raise source.fail(f"no table {source.table!r} in the database") from None
    except sa.exc.DBAPIError as exc:
        raise source.fail(f"the database says: {_reason(exc.orig or exc)}") from None
    finally:
        engine.dispose()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table({n: _arrow_column(c) for n, c in zip(names, columns, strict=True)}), None


def _read_only(conn: Any) -> None:
    """A query may not write: a read-only transaction where the database has one."""
    import sqlalchemy as sa

    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SET TRANSACTION READ ONLY"))
    elif dialect == "sqlite":
        conn.execute(sa.text("PRAGMA query_only = ON"))


def _arrow_column(values: tuple[Any, ...]) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: as text, as a CSV holds them
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def prepare(text: str, *, table: str | None = None, query: str | None = None) -> Source:
    """Parse a spec and check it can be read, before anything trains: the file, table or
    version exists, the query runs and returns rows.  An unpinned Delta table is pinned
    to its current version, so every position reads, and the metadata records, the same."""
    source = parse(text, table=table, query=query)
    if source.kind == "csv":
        try:
            fs, path = _filesystem(source)
            found = fs.isfile(path)
        except Exception as exc:  # noqa: BLE001 - an unreachable bucket, named once
            raise source.fail(f"cannot be read ({_reason(exc)})") from None
        if not found:
            raise source.fail("training CSV not found", "a path to a training CSV")
        return source
    if source.kind == "delta" and source.pin is None:
        source = replace(source, pin=current_delta_version(source))
    read_arrow(source, limit=1)
    return source
