"""Throwaway servers for the deployment tests, on 127.0.0.1 only: a PostgreSQL cluster (Debian's `postgresql`
binaries; the server runs as the `postgres` user when the tests run as root, since initdb refuses root) and the
processes the systemd units of deploy/ start (code server, daemon, webserver).

Nothing here is imported by the pipeline; the test modules use it (tests/test_deploy.py)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
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


class Services:
    """What the three units of deploy/systemd start, as subprocesses of the test: `dagster code-server start`,
    `dagster-daemon run` and `dagster-webserver`, the latter two on a workspace pointing at the code server
    (deploy/workspace.yaml with the test's port)."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp = tmp
        self.env = env
        self.code_port = free_port()
        self.web_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        workspace = (REPO / "deploy" / "workspace.yaml").read_text()
        assert "port: 4266" in workspace
        self.workspace = tmp / "workspace.yaml"
        self.workspace.write_text(workspace.replace("port: 4266", f"port: {self.code_port}"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process, in stop()
        self.procs[name] = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def start(self, timeout: float = 240) -> None:
        # the units' ExecStart lines (deploy/systemd/*.service), with the test's ports and workspace
        self._start("code-server", [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p",
                                    str(self.code_port), "-m", "dagster_project.definitions", "--location-name",
                                    "fairuse", "--use-python-environment-entry-point"])
        self._wait_code_server(timeout)
        self._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)])
        self._start("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.web_port),
                                  "-w", str(self.workspace)])
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


@dataclass
class S3Server:
    endpoint: str

    def env(self, key_id: str = "testing", secret: str = "testing") -> dict[str, str]:
        """The standard AWS variables pointing at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_REGION": "us-east-1"}

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
                                 skip_instance_cache=True, use_listings_cache=False)


@contextlib.contextmanager
def s3_server(tmp: Path) -> Iterator[S3Server]:
    """A real S3-compatible HTTP server (moto's, `moto[server]`) on a free loopback port, in its own process."""
    port = free_port()
    log = open(tmp / "moto.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
