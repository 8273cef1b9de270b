"""Real servers for the distributed tests: PostgreSQL (password auth) and ``mlflow server``.

Each is started in a temporary folder on a free loopback port and stopped with its whole process
group. ``.ci/run`` installs PostgreSQL; where it is missing the tests skip and say why.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "Sw0rdf1sh-never-printed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: on the PATH, or Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@dataclass
class Postgres:
    folder: Path
    port: int
    bin: Path
    user_prefix: list[str]
    max_connections: int = 200

    def url(self, database: str) -> str:
        return f"postgresql://automl:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        subprocess.run(
            [
                *self.user_prefix,
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "automl",
                name,
            ],
            check=True,
            env={**os.environ, "PGPASSWORD": PASSWORD},
            capture_output=True,
        )

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.user_prefix, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args],
            capture_output=True,
            text=True,
        )

    def start(self) -> None:
        """Start the server (again, after :meth:`halt`) and wait until it accepts connections."""
        done = self._pg_ctl(
            "-w",
            "-l",
            str(self.folder / "postgres.log"),
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={self.max_connections}",
            "start",
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}")

    def halt(self) -> None:
        """Stop the server as an operator would (``pg_ctl stop -m fast``), keeping its data."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(max_connections: int = 200) -> Postgres:
    """initdb + pg_ctl start in a new folder under /tmp, as the postgres user when we are root
    (PostgreSQL refuses to run as root). Call :meth:`Postgres.stop` and remove the folder."""
    import pwd
    import tempfile

    bin_dir = postgres_bin()
    assert bin_dir is not None, "check postgres_bin() first"
    folder = Path(tempfile.mkdtemp(prefix="automl-pg-"))  # not under pytest's 0700 folder
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    (folder / "pw").write_text(PASSWORD + "\n")
    os.chmod(folder / "pw", 0o644)
    port = free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr or done.stdout}")

    run(
        str(bin_dir / "initdb"),
        "-D",
        str(folder / "data"),
        "-U",
        "automl",
        "--pwfile",
        str(folder / "pw"),
        "--auth",
        "scram-sha-256",
        "-E",
        "UTF8",
    )
    postgres = Postgres(folder, port, bin_dir, prefix, max_connections)
    postgres.start()
    return postgres


@dataclass
class MlflowServer:
    process: subprocess.Popen
    url: str
    log: Path
    backend_uri: str = ""
    artifacts: Path = Path()

    def restart(self) -> "MlflowServer":
        """Start it again (after :meth:`stop`) on the same port, store and artifacts; this
        object then stands for the new process (whoever stops it stops that one)."""
        port = int(self.url.rsplit(":", 1)[1])
        self.process = start_mlflow_server(self.backend_uri, self.artifacts, self.log, port).process
        return self

    def stop(self) -> None:
        """The server, its gunicorn/uvicorn workers and its job consumers: the whole group."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_mlflow_server(
    backend_uri: str, artifacts: Path, log: Path, port: int | None = None, workers: int = 1
) -> MlflowServer:
    """``mlflow server`` on ``port`` (default: a free one), answering ``/health``."""
    port = port or free_port()
    out = open(log, "a")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            backend_uri,
            "--artifacts-destination",
            artifacts.as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],  # one server process: enough for a test
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = MlflowServer(process, f"http://127.0.0.1:{port}", log, backend_uri, artifacts)
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"mlflow server did not answer in 120 s: {log.read_text()[-2000:]}")
