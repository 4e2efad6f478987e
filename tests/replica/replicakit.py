"""A real streaming replica on this machine: a private primary (pg_createcluster on a free
port, the reliability tests' PrivateCluster) and a hot standby copied from it with
``pg_basebackup -R``. The shared server on 5432 is never touched; both clusters are dropped
with ``pg_dropcluster --stop``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from reliability.reliakit import PrivateCluster
from sqlalchemy import create_engine, text

REPLICATION_HBA = "host replication all 127.0.0.1/32 trust\n"
STANDBY_CONFIG = {
    "postgresql.conf": "",  # defaults (hot_standby = on); pg_createcluster adds port and paths
    "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
    "pg_ident.conf": "",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")


def _as_postgres(*command: str) -> None:
    # The files of a data directory must belong to the server's user.
    _run("runuser", "-u", "postgres", "--", *command)


def _create_cluster(cluster: PrivateCluster) -> None:
    """pg_createcluster without fsync at initdb (a throw-away cluster: 2-3 s faster)."""
    cluster.drop()  # a cluster left behind by a killed run
    _run("pg_createcluster", cluster.version, cluster.name, "--port", str(cluster.port),
         "--", "--auth=trust", "--no-sync")  # fmt: skip


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


class ReplicaPair:
    """A primary with ``wal_level=replica`` and a standby streaming from it."""

    def __init__(self, primary_port: int, standby_port: int) -> None:
        self.primary = PrivateCluster(primary_port)
        self.standby = PrivateCluster(standby_port)

    def _config_dir(self, cluster: PrivateCluster) -> Path:
        return Path(f"/etc/postgresql/{cluster.version}/{cluster.name}")

    def _data_dir(self, cluster: PrivateCluster) -> Path:
        return Path(f"/var/lib/postgresql/{cluster.version}/{cluster.name}")

    def create_primary(self) -> None:
        _create_cluster(self.primary)
        self.primary.start()
        # Streaming replication connects to the pseudo-database "replication".
        with (self._config_dir(self.primary) / "pg_hba.conf").open("a") as hba:
            hba.write(REPLICATION_HBA)
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.primary.version,
             self.primary.name, "reload")  # fmt: skip

    def create_standby(self) -> None:
        """A base backup of the primary (with ``-R``: standby.signal and primary_conninfo)
        adopted as a cluster by pg_createcluster (no initdb), started as a hot standby."""
        self.standby.drop()  # a cluster left behind by a killed run
        data_dir = self._data_dir(self.standby)
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(mode=0o700)
        shutil.chown(data_dir, "postgres", "postgres")
        _as_postgres("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                     "-U", "postgres", "-D", str(data_dir), "-R", "-X", "stream",
                     "--checkpoint=fast", "--no-sync")  # fmt: skip
        # pg_createcluster adopts a data directory that holds its configuration files
        # (it moves them under /etc/postgresql and sets the port and paths).
        for name, content in STANDBY_CONFIG.items():
            (data_dir / name).write_text(content)
            shutil.chown(data_dir / name, "postgres", "postgres")
        _run("pg_createcluster", self.standby.version, self.standby.name,
             "--port", str(self.standby.port))  # fmt: skip
        self.standby.start()

    def create(self) -> None:
        self.create_primary()
        self.create_standby()

    def drop(self) -> None:
        """Both clusters, stopped and removed; safe to call after a failed create."""
        try:
            self.standby.drop()
        finally:
            self.primary.drop()

    def streaming(self) -> bool:
        """The primary sees the standby's WAL receiver in state 'streaming'."""
        state = _scalar(self.primary.url(), "SELECT state FROM pg_stat_replication LIMIT 1")
        return state == "streaming"

    def wait_streaming(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.streaming():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby did not start streaming within {timeout} s")
            time.sleep(0.1)

    def pause_replay(self) -> None:
        """WAL still arrives on the standby but is not applied: replica lag on demand."""
        _scalar(self.standby.url(), "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        _scalar(self.standby.url(), "SELECT pg_wal_replay_resume()")


@dataclass(frozen=True)
class Replicated:
    """The pair and one migrated database, reachable on the primary and on the standby."""

    pair: ReplicaPair
    primary_url: str
    standby_url: str
