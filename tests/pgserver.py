"""A throwaway PostgreSQL cluster (no pytest here: the tests' fixture, tests/pgcluster.py, and the
team-store benchmark, bench/bench_team_store.py, both use it): `initdb` into a temp dir (as an
unprivileged user when run as root), `pg_ctl start` on a free loopback port, `pg_ctl stop` at the end.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "triptych"


def pg_bindir() -> Path | None:
    env = os.environ.get("TRIPTYCH_PG_BINDIR")
    if env:  # this folder only (a missing one: as if PostgreSQL were not installed)
        return Path(env) if (Path(env) / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One running cluster. `url(db)` is a psycopg URL; `create_db()` a fresh empty database."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self.user: str | None = None
        self.password: str | None = None
        if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                break
        os.chmod(root, 0o777)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd=self.root, timeout=120)

    def init(self, password: str | None = None) -> None:
        """`password`: TCP logins need it (scram-sha-256); else every login is trusted."""
        self.password = password
        auth = ["--auth", "trust"]
        if password is not None:
            pwfile = self.root / "pwfile"
            pwfile.write_text(password + "\n")
            os.chmod(pwfile, 0o644)
            auth = ["--auth-local", "trust", "--auth-host", "scram-sha-256", "--pwfile", str(pwfile)]
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "--username", SUPERUSER,
                  *auth, "--encoding", "UTF8", "--no-locale", "--no-sync")
        if password is not None:
            (self.root / "pwfile").unlink()
        self.start()

    def start(self) -> None:
        opts = (f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", opts, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the server at once and delete its files."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres", password: str | None = None) -> str:
        auth = SUPERUSER if password is None else f"{SUPERUSER}:{password}"
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{db}"

    def create_db(self) -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             password=self.password, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def sql(self, db: str, statement: str) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={db}",
                             password=self.password, autocommit=True) as conn:
            cur = conn.execute(statement)
            return list(cur.fetchall()) if cur.description else []


def start_cluster(password: str | None = None) -> Cluster:
    """initdb + start a cluster in a new temp dir (`password`: logins need it). RuntimeError when
    PostgreSQL is not installed, CalledProcessError when it does not start. `cluster.destroy()` stops
    it and removes the dir."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb found)")
    root = Path(tempfile.mkdtemp(prefix="triptych-pg-"))
    cluster = Cluster(bindir, root)
    try:
        cluster.init(password)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster

