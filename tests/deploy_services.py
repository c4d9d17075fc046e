"""Throwaway servers for the deployment tests, on 127.0.0.1 only: a PostgreSQL cluster (Debian's `postgresql`
binaries; the server runs as the `postgres` user when the tests run as root, since initdb refuses root), the
processes the systemd units of deploy/ start (code server, daemon, webserver: their ExecStart= lines, read from
the unit files) and an S3-compatible server (moto's) that records the requests it receives.

Nothing here is imported by the pipeline; the test modules use it (tests/test_deploy.py)."""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (/usr/lib/postgresql/N/bin), else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.yaml reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USERNAME": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.db}

    def query(self, sql: str, params=()) -> list[tuple]:
        import psycopg2

        con = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=self.db)
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()


@contextlib.contextmanager
def postgres_cluster(bindir: Path) -> Iterator[Postgres]:
    """initdb + pg_ctl start on a free loopback port (password authentication over TCP), a database for
    Dagster; stopped and removed afterwards."""
    as_root = os.geteuid() == 0
    # Under /tmp itself: pytest's tmp folders are owner-only, which the postgres user could not enter.
    base = Path(tempfile.mkdtemp(prefix="fairuse-pg-"))
    data = base / "data"
    pwfile = base / "pw"
    password = "dagster-test-pw"
    pwfile.write_text(password + "\n")
    prefix: list[str] = []
    if as_root:
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
        os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = base / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, cwd=base)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "dagster", f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off")
        pg = Postgres("127.0.0.1", port, "dagster", password, "postgres")
        import psycopg2

        con = psycopg2.connect(host=pg.host, port=port, user=pg.user, password=password, dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("create database fairuse_dagster")
        con.close()
        yield Postgres("127.0.0.1", port, "dagster", password, "fairuse_dagster")
    finally:
        if data.exists():
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def dagster_home(tmp: Path) -> Path:
    """A DAGSTER_HOME holding the production instance file, deploy/dagster.yaml."""
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return home


# What the units of deploy/systemd name (docs/DEPLOYING.md) and the test replaces with its own: paths, ports
UNITS = REPO / "deploy" / "systemd"
UNIT_APP = "/srv/fairuse/app"
UNIT_PATHS = (f"{UNIT_APP}/.venv/bin", f"{UNIT_APP}/deploy/workspace.yaml", UNIT_APP, "/srv/fairuse/dagster_home",
              "/etc/fairuse/fairuse.env")
UNIT_CODE_PORT, UNIT_WEB_PORT = "4266", "3000"


def unit_service(unit: str) -> dict[str, list[str]]:
    """The [Service] section of deploy/systemd/<unit>.service as systemd reads it: a line ending in a backslash
    continues on the next, comments dropped; each key's values in order (Environment= may repeat)."""
    lines: list[str] = []
    pending = ""
    for line in (UNITS / f"{unit}.service").read_text().splitlines():
        text = line.strip()
        if not pending and (not text or text[0] in "#;"):
            continue
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        lines.append(pending + text)
        pending = ""
    service: dict[str, list[str]] = {}
    section = None
    for line in lines:
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            service.setdefault(key.strip(), []).append(value.strip())
    return service


def read_env_file(path: Path) -> dict[str, str]:
    """An EnvironmentFile= (KEY=VALUE lines; comments and blank lines ignored; quotes removed)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip("\"'")
    return out


class Services:
    """What the three units of deploy/systemd start, as subprocesses of the test: each unit's ExecStart= in its
    WorkingDirectory=, with its Environment= and its EnvironmentFile= (the test's settings, `env_file`), the paths
    the units name replaced by the test's (this checkout and its .venv, the DAGSTER_HOME `home`, a copy of
    deploy/workspace.yaml with the test's port) and the ports by free ones. A unit whose command, options or
    paths drift from what the test knows fails here. The environment starts from the test's own (systemd would
    start from an empty one): the interpreter must find this checkout as the test does."""

    def __init__(self, tmp: Path, home: Path, env_file: dict[str, str]):
        self.tmp = tmp
        self.code_port = free_port()
        self.web_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        workspace = (REPO / "deploy" / "workspace.yaml").read_text()
        assert f"port: {UNIT_CODE_PORT}" in workspace  # where the code server unit listens
        self.workspace = tmp / "workspace.yaml"
        self.workspace.write_text(workspace.replace(f"port: {UNIT_CODE_PORT}", f"port: {self.code_port}"))
        self.env_file = tmp / "fairuse.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in env_file.items()))
        self.paths = dict(zip(UNIT_PATHS, (str(BIN), str(self.workspace), str(REPO), str(home), str(self.env_file)),
                              strict=True))
        self.ports = {UNIT_CODE_PORT: str(self.code_port), UNIT_WEB_PORT: str(self.web_port)}
        self.env = self.command("fairuse-code-server")[1]

    def _local(self, value: str) -> str:
        for unit_path in sorted(self.paths, key=len, reverse=True):
            value = value.replace(unit_path, self.paths[unit_path])
        assert "/srv/" not in value and "/etc/" not in value, f"a path the test does not know: {value}"
        return value

    def command(self, unit: str) -> tuple[list[str], dict[str, str], Path]:
        """(arguments, environment, working directory) of a unit's ExecStart=, with the test's paths and ports."""
        service = unit_service(unit)
        (exec_start,) = service["ExecStart"]
        args = [self._local(a) for a in shlex.split(exec_start)]
        for i in range(1, len(args)):
            if args[i - 1] in ("-p", "--port"):
                assert args[i] in self.ports, f"{unit}: port {args[i]} is not one of {sorted(self.ports)}"
                args[i] = self.ports[args[i]]
        env = dict(os.environ)
        for value in service.get("Environment", []):
            for assignment in shlex.split(value):
                key, _, val = assignment.partition("=")
                env[key] = self._local(val)
        for value in service.get("EnvironmentFile", []):
            env.update(read_env_file(Path(self._local(value.removeprefix("-")))))
        (workdir,) = service["WorkingDirectory"]
        return args, env, Path(self._local(workdir))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _start(self, name: str, unit: str) -> None:
        args, env, workdir = self.command(unit)
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process, in stop()
        self.procs[name] = subprocess.Popen(args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def start(self, timeout: float = 240) -> None:
        self._start("code-server", "fairuse-code-server")
        self._wait_code_server(timeout)
        self._start("daemon", "fairuse-dagster-daemon")
        self._start("webserver", "fairuse-dagster-webserver")
        self._wait(lambda: urllib.request.urlopen(f"{self.url}/server_info", timeout=2), "webserver", timeout)

    def _wait_code_server(self, timeout: float) -> None:
        def ping():
            out = subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(self.code_port)],
                                 capture_output=True, text=True, env=self.env, timeout=30)
            if out.returncode != 0:
                raise OSError(out.stderr)

        self._wait(ping, "code-server", timeout)

    def _wait(self, probe, name: str, timeout: float) -> None:
        deadline = time.time() + timeout
        while True:
            try:
                probe()
                return
            except (OSError, subprocess.TimeoutExpired):
                if self.procs[name].poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{name} did not come up:\n{self.log(name)[-3000:]}") from None
                time.sleep(1)

    def stop(self) -> None:
        for name in ("webserver", "daemon", "code-server"):
            proc = self.procs.get(name)
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


# The buckets' region: not botocore's default (us-east-1), so that a client in the wrong region shows in the requests
REGION = "eu-west-3"
_SIGNED_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/s3/aws4_request")


@dataclass
class S3Request:
    """One request the S3 server received (moto's recorder): method, bucket/key, the region it was signed for, the
    source of a copy and the body sent."""
    method: str
    key: str
    region: str | None
    copy_source: str | None
    body: bytes


@dataclass
class S3Server:
    endpoint: str

    def env(self, key_id: str = "testing", secret: str = "testing") -> dict[str, str]:
        """The standard AWS variables pointing at this server, the region as the documentation names it
        (AWS_REGION, which botocore itself does not read)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_REGION": REGION}

    def _api(self, path: str) -> bytes:
        return urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/{path}", data=b"",
                                                             method="POST"), timeout=10).read()

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[S3Request]]:
        """moto's request recorder on for the block: the list yielded holds, once the block is over, every request
        the server received meanwhile, in order."""
        self._api("recorder/reset-recording")
        self._api("recorder/start-recording")
        requests: list[S3Request] = []
        try:
            yield requests
        finally:
            self._api("recorder/stop-recording")
            raw = urllib.request.urlopen(f"{self.endpoint}/moto-api/recorder/download-recording", timeout=30).read()
            for line in raw.decode().splitlines():
                entry = json.loads(line)
                headers = {k.lower(): v for k, v in entry["headers"].items()}
                signed = _SIGNED_REGION.search(headers.get("authorization", ""))
                body = entry.get("body") or ""
                path = urllib.parse.unquote(urllib.parse.urlsplit(entry["url"]).path)
                requests.append(S3Request(
                    entry["method"], path.lstrip("/"), signed.group(1) if signed else None,
                    headers.get("x-amz-copy-source"),
                    base64.b64decode(body) if entry.get("body_encoded") else body.encode()))

    @contextlib.contextmanager
    def checking_credentials(self) -> Iterator[None]:
        """moto's server accepts any key unless told to check them (its IAM emulation: moto-api/reset-auth);
        meanwhile only its IAM users' keys are accepted, so env()'s key is refused."""
        def reset(count: str) -> None:
            urllib.request.urlopen(urllib.request.Request(
                f"{self.endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                headers={"Content-Type": "text/plain"}), timeout=10)

        reset("0")
        try:
            yield
        finally:
            reset("inf")

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=self.endpoint,
                                 client_kwargs={"region_name": REGION},  # mkdir: a bucket in REGION
                                 skip_instance_cache=True, use_listings_cache=False)


@contextlib.contextmanager
def s3_server(tmp: Path) -> Iterator[S3Server]:
    """A real S3-compatible HTTP server (moto's, `moto[server]`) on a free loopback port, in its own process."""
    port = free_port()
    log = open(tmp / "moto.log", "w")  # noqa: SIM115 - closed below
    # its request recorder (S3Server.recording) writes to a file of the test's, never into the checkout
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp,
                            env={**os.environ, "MOTO_RECORDER_FILEPATH": str(tmp / "moto-requests.jsonl")})
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the S3 server did not start") from None
                time.sleep(0.5)
        yield S3Server(endpoint)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
