"""Real PostgreSQL databases, Redis brokers and Celery processes for the tests.

Everything runs on 127.0.0.1 and is started and stopped by the tests themselves:
a database created from a migrated template per test, ``celery worker`` and
``celery beat`` subprocesses in process groups of their own (so SIGKILL takes a
worker's pool children with it), and, for the broker restart, a private
``redis-server`` on its own port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[3]
PYTHON = sys.executable
SETTINGS = "tests.integration.workers.settings"
CELERY_APP = "tests.integration.workers.celery_app"
QUEUES = "omnichannel-send,omnichannel-segments,omnichannel-models"

POSTGRES_URL = os.environ.get(
    "OMNICHANNEL_IT_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("OMNICHANNEL_IT_REDIS_URL", "redis://127.0.0.1:6379/5")
OWN_REDIS_PORT = int(os.environ.get("OMNICHANNEL_IT_OWN_REDIS_PORT", "6390"))


def postgres_problem() -> str | None:
    """Return why PostgreSQL cannot be used, or None when it responds."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL does not respond at {POSTGRES_URL}: {error}"
    return None


def redis_problem() -> str | None:
    """Return why the shared Redis cannot be used, or None when it responds."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis does not respond at {REDIS_URL}: {error}"
    if shutil.which("redis-server") is None:
        return "redis-server is not on PATH (the broker restart test starts its own)"
    return None


def database_url(name: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(statement)


def drop_database(name: str) -> None:
    admin_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    admin_sql(f'DROP DATABASE IF EXISTS "{name}"')


def new_database_name(prefix: str = "omnichannel_it") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def process_env(db_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        OMNICHANNEL_IT_DATABASE_URL=db_url,
        OMNICHANNEL_IT_BROKER_URL=broker_url,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "example_project")]),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run_python(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run ``python args`` to completion; return its output or fail with it."""
    done = subprocess.run(
        [PYTHON, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"python {' '.join(args)} exited with {done.returncode}:\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def migrate_template(name: str) -> None:
    """Create database ``name`` and migrate it, to be copied for each test."""
    admin_sql(f'CREATE DATABASE "{name}"')
    env = process_env(database_url(name), "memory://")
    run_python(["-m", "django", "migrate", "--noinput", "-v", "0"], env, timeout=600)


@dataclass
class Cluster:
    """The worker and beat processes of one test, with their logs."""

    db_url: str
    broker_url: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return process_env(self.db_url, self.broker_url, **self.extra_env)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        number = self.restarts.get(name, 0)
        self.restarts[name] = number + 1
        log = open(self.log_dir / f"{name}-{number}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", CELERY_APP, *args],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def start_worker(self, name: str, concurrency: int = 2) -> subprocess.Popen:
        return self._start(
            name,
            [
                "worker",
                "-n",
                f"{name}@%h",
                "-Q",
                QUEUES,
                "-c",
                str(concurrency),
                "-P",
                "prefork",
                "-O",
                "fair",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
        )

    def start_beat(self) -> subprocess.Popen:
        return self._start(
            "beat",
            [
                "beat",
                "-l",
                "WARNING",
                "--max-interval",
                "1",
                "-s",
                str(self.log_dir / "beat-schedule"),
            ],
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name``: the worker and its pool."""
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """Kill every process; the test is over, so no shutdown needs to be clean."""
        for name in list(self.processes):
            self.kill(name)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {process.returncode}; see {self.log_dir}"
                )

    def logs(self) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text()[-3000:]}")
        return "\n".join(parts)


class OwnRedis:
    """A redis-server of the test's own on 127.0.0.1, that it may stop and start."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        log = open(self.log_dir / f"redis-{self.port}.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        wait_until(lambda: _pings(client), timeout=10, what="own redis-server to start")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


def _pings(client: Any) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` until it returns a true value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = describe() if describe else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}. {detail}"
            )
        time.sleep(interval)


def counts(db_url: str) -> dict[str, int]:
    """Return delivery counts by status, active enrollments and provider records."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as connection:
        figures: dict[str, int] = {
            f"delivery_{status}": number
            for status, number in connection.execute(
                "SELECT status, count(*) FROM omnichannel_delivery GROUP BY status"
            )
        }
        figures["deliveries"] = sum(figures.values())
        figures["active_enrollments"] = connection.execute(
            "SELECT count(*) FROM omnichannel_enrollment WHERE status = 'active'"
        ).fetchone()[0]
        figures["completed_enrollments"] = connection.execute(
            "SELECT count(*) FROM omnichannel_enrollment WHERE status = 'completed'"
        ).fetchone()[0]
        provider = connection.execute(
            "SELECT count(*), count(DISTINCT delivery_id), coalesce(sum(repeats), 0) "
            "FROM it_provider_send"
        ).fetchone()
    figures["provider_rows"] = provider[0]
    figures["provider_distinct"] = provider[1]
    figures["provider_repeats"] = int(provider[2])
    return figures
