"""Starts, watches and stops the six services as separate processes (for `make run` and tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from local.infra import REPO, free_port

SERVICES = ("enrollment", "attendance", "billing", "notification", "audit", "portal")
# Where each service finds the others it links to or asks: the portal asks audit (proofs, keys) and
# enrollment (the bureau's reports) and notification's messages link to the portal's pages.
LINKS = {"AUDIT_URL": "audit", "ENROLLMENT_URL": "enrollment", "PORTAL_URL": "portal"}


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, **self.env, "HTTP_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        if "AUTH_JWKS" not in env:
            from shared.issuer import dev_issuer

            dev_issuer()  # the local issuer's JWKS, where the service's default AUTH_JWKS reads it
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.name}"], cwd=REPO, env=env,
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode if self.proc else '?'}; "
                                   f"see {self.log_path}:\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 40) -> int | None:
        """SIGTERM, as Kubernetes does: the service drains and exits."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


class Platform:
    """The services on one broker and one database server, each in its own schema. `replicas` runs
    more processes of a service (distinct ports and logs, the same consumer group and schema), as
    Kubernetes runs several pods of one Deployment."""

    def __init__(self, kafka: str, database_url: str, log_dir: Path, names: tuple[str, ...] = SERVICES,
                 extra_env: dict[str, str] | None = None, ports: dict[str, int] | None = None,
                 replicas: dict[str, int] | None = None) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "DATABASE_URL": database_url, **(extra_env or {})}
        self.services = {
            n: ServiceProcess(n, env, log_path=log_dir / f"{n}.log", **({"port": ports[n]} if ports and n in ports else {}))
            for n in names
        }
        self.replicas = {n: [svc] + [ServiceProcess(n, env, log_path=log_dir / f"{n}-{k + 1}.log")
                                     for k in range(1, (replicas or {}).get(n, 1))]
                         for n, svc in self.services.items()}
        links = {var: self.services[name].url for var, name in LINKS.items() if name in self.services}
        for group in self.replicas.values():
            for svc in group:
                svc.env = {**links, **env}

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def processes(self) -> list[ServiceProcess]:
        """Every process, first replicas first."""
        return [svc for group in self.replicas.values() for svc in group[:1]] + \
               [svc for group in self.replicas.values() for svc in group[1:]]

    def start(self, timeout: float = 120) -> None:
        # First replicas first, so that each one's relay holds its schema's lock and the others stand by.
        for first in (True, False):
            started = [svc for group in self.replicas.values() for svc in (group[:1] if first else group[1:])]
            for svc in started:
                if not svc.alive():
                    svc.start()
            for svc in started:
                svc.wait_ready(timeout)

    def stop(self) -> None:
        for svc in self.processes():
            if svc.alive():
                svc.proc.send_signal(signal.SIGTERM)
        for svc in self.processes():
            svc.stop()
