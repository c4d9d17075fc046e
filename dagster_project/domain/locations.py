"""Folders on local disk or in object storage (`s3://bucket/prefix`), for the exports and the raw data.

A location is a local `Path` or, for a URL, the URL as a string (settings.py keeps it so). Object storage goes
through fsspec (`s3fs` for `s3://`, the `deploy` extra): credentials, region and endpoint come from the standard
AWS variables and files (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL for MinIO, Ceph,
R2...), as for any AWS tool; nothing of them is in the repository. The region is the one exception to "as botocore
reads them": botocore reads AWS_DEFAULT_REGION (then the profile's `region`) but not AWS_REGION, the variable the
AWS CLI and the other SDKs read first, so `aws_region` hands AWS_REGION to every S3 client the pipeline opens.

`Folder` is what the exports need of a folder, on either: read, write a set of files, write one file, list month
folders, copy. What differs is atomicity: on disk a file is written under a temporary name and renamed (a set
of files: all written, then all renamed); an object store has no rename, but a PUT replaces an object whole, so
a set is written file by file and the caller writes its manifest last.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MONTH_FOLDER = re.compile(r"^\d{4}-\d{2}$")


class LocationError(ValueError):
    """A location that cannot be used (a missing bucket, refused credentials, an unreachable endpoint); the
    message names the location and what is wrong, in one line."""


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def resolve(value: str | Path) -> Path | str:
    """A setting's value as a location: a URL as given (without a trailing '/'), else an absolute path."""
    if is_url(str(value)):
        return str(value).rstrip("/")
    text = str(value)
    p = Path(text.removeprefix("file://")).expanduser()
    return (p if p.is_absolute() else Path.cwd() / p).resolve()


def aws_region() -> str | None:
    """The region of the S3 clients: AWS_REGION when it is set (it wins over AWS_DEFAULT_REGION, as in the AWS CLI
    and the other SDKs); else None, and botocore finds it as usual (AWS_DEFAULT_REGION, then the profile's
    `region` in ~/.aws/config). botocore alone never reads AWS_REGION."""
    return os.environ.get("AWS_REGION") or None


def aws_region_env() -> dict[str, str]:
    """AWS_REGION under the name botocore reads, for the S3 file system dbt-duckdb opens on dbt's connection
    (profiles.yml `filesystems`, whose values cannot be left unset): set around dbt's run (settings.dbt_env)."""
    region = aws_region()
    return {"AWS_DEFAULT_REGION": region} if region else {}


def filesystem(url: str):
    """(fsspec file system, path inside it) of a URL; listings never cached (a sensor lists again each tick); an
    S3 client in the region `aws_region` gives."""
    import fsspec

    options: dict = {"use_listings_cache": False, "skip_instance_cache": True}
    region = aws_region()
    if region and url.startswith(("s3://", "s3a://")):
        options["client_kwargs"] = {"region_name": region}
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as e:
        raise LocationError(f"{url}: object storage needs the deploy extra (pip install -e '.[deploy]'): "
                            f"{e}") from None


def register_filesystem(con, location: str | Path) -> None:
    """Let a DuckDB connection read a location's files (raw Parquet in a bucket) through fsspec: the file system
    registered on the connection (DuckDB's `register_filesystem`), never DuckDB's httpfs extension (downloaded at
    run time from DuckDB's server). A local folder needs nothing."""
    if is_url(location):
        con.register_filesystem(filesystem(str(location))[0])


def describe_error(url: str, e: BaseException) -> str:
    """One line naming the location and what is wrong with it (bucket, credentials, endpoint)."""
    text = " ".join(str(e).split()) or e.__class__.__name__
    name = e.__class__.__name__
    bucket = url.split("://", 1)[1].split("/", 1)[0]
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the default AWS endpoint"
    if isinstance(e, FileNotFoundError) and "bucket" in text.lower():
        return f"{url}: bucket {bucket!r} does not exist (at {endpoint})"
    if isinstance(e, PermissionError) or "AccessDenied" in text or "InvalidAccessKeyId" in text \
            or "SignatureDoesNotMatch" in text or "credentials" in text.lower():
        return (f"{url}: access refused by {endpoint}: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
                f"({name}: {text})")
    if "connect" in text.lower() or "endpoint" in text.lower() or isinstance(e, ConnectionError | OSError) \
            and not isinstance(e, FileNotFoundError):
        return f"{url}: cannot reach {endpoint} ({name}: {text})"
    return f"{url}: {name}: {text}"


class Folder:
    """A folder of a location; `folder / name` is a sub-folder."""

    def __init__(self, location: str | Path):
        self.location = location
        if is_url(location):
            self.fs, self.path = filesystem(str(location))
        else:
            self.fs, self.path = None, str(location)

    @property
    def remote(self) -> bool:
        return self.fs is not None

    def __truediv__(self, name: str) -> Folder:
        child = object.__new__(Folder)
        child.location = f"{self.location}/{name}" if self.remote else Path(self.location) / name
        child.fs, child.path = self.fs, f"{self.path}/{name}"
        return child

    def __str__(self) -> str:
        return str(self.location)

    def _local(self, name: str) -> Path:
        return Path(self.path) / name

    def check(self) -> None:
        """Fail in one line (LocationError) when the location cannot be used: its bucket is missing, the
        credentials are refused or the endpoint is unreachable."""
        if not self.remote:
            return
        bucket = self.path.split("/", 1)[0]
        try:
            self.fs.ls(bucket, detail=False)
        except Exception as e:  # noqa: BLE001 - any failure of the store is reported, in one line
            raise LocationError(describe_error(str(self.location), e)) from None

    def exists(self, name: str) -> bool:
        return self.fs.exists(f"{self.path}/{name}") if self.remote else self._local(name).exists()

    def read_bytes(self, name: str) -> bytes:
        return self.fs.cat_file(f"{self.path}/{name}") if self.remote else self._local(name).read_bytes()

    def mkdir(self) -> None:
        if not self.remote:  # an object store has no folders: a key's prefix is one
            Path(self.path).mkdir(parents=True, exist_ok=True)

    def month_folders(self) -> list[str]:
        """Names of the YYYY-MM sub-folders."""
        if self.remote:
            try:
                entries = self.fs.ls(self.path, detail=True)
            except FileNotFoundError:
                return []
            names = [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e["type"] == "directory"]
        else:
            root = Path(self.path)
            names = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
        return sorted(n for n in names if MONTH_FOLDER.match(n))

    def write_atomic(self, name: str, data: bytes) -> None:
        """One file, replaced whole: temporary name + fsync + rename on disk, one PUT in a bucket."""
        if self.remote:
            self.fs.pipe_file(f"{self.path}/{name}", data)
        else:
            os.replace(_write_temp(self._local(name), data), self._local(name))

    def write_set(self, content: dict[str, bytes]) -> None:
        """Several files. On disk all or nothing: every file is written in full under a temporary name first,
        then all are renamed into place (a full disk leaves the previous files as they were). In a bucket each
        file in turn (in name order), each replaced whole: the caller writes the manifest after."""
        if self.remote:
            for name in sorted(content):
                self.fs.pipe_file(f"{self.path}/{name}", content[name])
            return
        out = Path(self.path)
        temps: dict[str, Path] = {}
        try:
            for name in sorted(content):
                temps[name] = _write_temp(out / name, content[name])
        except BaseException:
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
            for leftover in out.glob(f".*.tmp-{os.getpid()}"):
                leftover.unlink(missing_ok=True)
            raise
        for name, tmp in temps.items():
            os.replace(tmp, out / name)

    def copy_set(self, names: list[str], dest: Folder, last: str) -> None:
        """Copy `names` (those that exist) and then `last` into `dest`, once: on disk through a temporary folder
        renamed into place; in a bucket object by object, `last` (the manifest) after the others. A copy already
        complete (its `last` present) is left as it is."""
        if dest.exists(last):
            return
        if self.remote:
            for name in [*names, last]:
                if self.exists(name):
                    self.fs.copy(f"{self.path}/{name}", f"{dest.path}/{name}")
            return
        import shutil

        keep = Path(dest.path)
        keep.parent.mkdir(parents=True, exist_ok=True)
        staging = keep.with_name(f".{keep.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in [*names, last]:
            if self._local(name).exists():
                shutil.copy2(self._local(name), staging / name)
        if keep.exists():  # an earlier copy interrupted before its `last`: replaced by the complete one
            shutil.rmtree(keep)
        os.replace(staging, keep)


def _write_temp(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return tmp
