"""`make run`: real Kafka and PostgreSQL, the six services as processes, the simulated-city showcase
(simulator.showcase), then it stays up until Ctrl-C, when everything it started is stopped cleanly."""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from local import infra
from local.platform import SERVICES, Platform
from shared.issuer import dev_issuer

PREFERRED_PORTS = {"enrollment": 8001, "attendance": 8002, "billing": 8003, "notification": 8004, "audit": 8005,
                   "portal": 8006}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _ports() -> dict[str, int]:
    return {n: (p if _port_free(p) else infra.free_port()) for n, p in PREFERRED_PORTS.items()}


WITNESSES = {"one": 7381, "two": 7382}
WITNESS_SH = infra.REPO / "infra" / "local" / "witness.sh"


def start_witnesses() -> dict[str, str]:
    """Two litewitnesses (infra/local/witness.sh) that know the ledger's key; the audit service's settings
    that make it send them every checkpoint and require both cosignatures (docs/audit.md, section 3a)."""
    from services.audit.settings import Settings
    from services.audit.signing import load_or_create_signer

    settings = Settings()
    signer = load_or_create_signer(settings)  # the key the audit process will load (generated once locally)
    pairs = []
    for name, port in WITNESSES.items():
        port = port if _port_free(port) else infra.free_port()
        vkey = subprocess.run([str(WITNESS_SH), "start", name, str(port), settings.ledger_origin, signer.vkey],
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        pairs.append(f"http://127.0.0.1:{port} {vkey}")
    return {"LEDGER_WITNESSES": ",".join(pairs), "LEDGER_WITNESS_QUORUM": str(len(pairs))}


ISSUER_PORT = 8009


def start_issuer(logs: Path) -> tuple[subprocess.Popen, str]:
    """The local token issuer (shared.issuer): school systems' OAuth2 token endpoint and the JWKS the
    services read by URL, as they read the city's identity provider's in production (docs/security.md)."""
    port = ISSUER_PORT if _port_free(ISSUER_PORT) else infra.free_port()
    logs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "shared.issuer", "serve", "--port", str(port)], cwd=infra.REPO,
                            stdout=open(logs / "issuer.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the token issuer did not start; see {logs / 'issuer.log'}")


def stop_witnesses() -> None:
    for name in WITNESSES:
        subprocess.run([str(WITNESS_SH), "stop", name], check=False)


def say(text: str = "") -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="start the platform without the demo")
    parser.add_argument("--exit-after-demo", action="store_true", help="stop everything after the demo (smoke test)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    state = infra.REPO / ".local"
    say("Beilei: starting a local platform (first run fetches Kafka's jars; later runs start in about 30 s)")
    kafka = infra.kafka()
    say(f"  ✓ {kafka.description}")
    pg = infra.postgres()
    say(f"  ✓ {pg.description}")
    # The showcase sends its messages whatever the hour it runs at: quiet hours (R22, 21:30-07:00 by default)
    # are off locally unless set in the environment.
    quiet = {k: os.environ.get(k, "00:00") for k in ("QUIET_HOURS_START", "QUIET_HOURS_END")}
    issuer, issuer_url = start_issuer(state / "logs")
    say(f"  ✓ token issuer at {issuer_url} (OAuth2 client credentials, JWKS)")
    witnesses = start_witnesses()
    say(f"  ✓ {len(WITNESSES)} ledger witnesses (litewitness): {witnesses['LEDGER_WITNESSES'].replace(',', ', ')}")
    jwks = {"AUTH_JWKS": f"{issuer_url}/.well-known/jwks.json"}  # verification keys only, by URL as in production
    plat = Platform(kafka.address, pg.address, state / "logs", ports=_ports(), extra_env={**quiet, **witnesses, **jwks})
    stopping = False

    def shutdown(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        say("\nStopping services (they drain in-flight work), then Kafka and PostgreSQL …")
        plat.stop()
        stop_witnesses()
        issuer.terminate()
        kafka.stop()
        pg.stop()
        say("Stopped.")

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        say(f"  … starting {', '.join(SERVICES)}")
        plat.start(timeout=180)
        say(f"  ✓ all {len(SERVICES)} services healthy after {time.monotonic() - started:.0f} s")
        _print_urls(plat, kafka.address, state / "logs", issuer_url)
        if not args.no_demo:
            from simulator.showcase import run_demo

            if not run_demo(plat, kafka.address, token_endpoint=f"{issuer_url}/oauth/token"):
                say("\nThe showcase could not show everything (see 'Not shown' above and the logs).")
            _print_portal_pages(plat["portal"].url)
        if args.exit_after_demo:
            return 0
        if not args.no_demo:
            _print_urls(plat, kafka.address, state / "logs", issuer_url)
        say("\nThe platform keeps running. Press Ctrl-C to stop everything.")
        while all(svc.alive() for svc in plat.services.values()):
            time.sleep(1)
        dead = [n for n, s in plat.services.items() if not s.alive()]
        say(f"Service(s) {', '.join(dead)} exited; see their logs in {state / 'logs'}")
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # startup failed: say why, with the service's log tail
        say(f"\nStartup failed: {exc}")
        return 1
    finally:
        shutdown()


def _print_urls(plat: Platform, kafka: str, logs: Path, issuer: str) -> None:
    say("\nWhere to look:")
    for name in SERVICES:
        svc = plat[name]
        say(f"  {name:<13} {svc.url}/docs   (health {svc.url}/health/ready, metrics {svc.url}/metrics)")
    say(f"  events (AsyncAPI)   {plat['enrollment'].url}/asyncapi.json")
    # The sink shows children's names and pickups: the city's page only, opened with a local city token.
    city = dev_issuer().mint("off-local-sink", "city")
    say(f"  messages to parents {plat['notification'].url}/sink?access_token={city}")
    say(f"  tokens              {issuer}/oauth/token   (a school system's credentials: "
        "python -m shared.issuer client SCHOOL_ID; any role: python -m shared.issuer mint ROLE SUBJECT)")
    portal = plat["portal"].url
    say("\nOn the web (the portal):")
    say(f"  schools             {portal}/   (each school's page: programmes, fees, safety, insurance, disclosures)")
    say(f"  a disclosure        {portal}/s/<school>  ->  a disclosure, then Verify (your browser checks the ledger)")
    say(f"  sign in             {portal}/signin   (development sign-in: a parent's /me, the bureau's /bureau, "
        "the auditor's /auditor)")
    say(f"  Kafka               {kafka}")
    say(f"  logs                {logs}/<service>.log")


def _print_portal_pages(portal: str) -> None:
    """The simulated city's own pages on the portal: a school, one of its disclosures (press Verify)."""
    import re

    import httpx

    try:
        school = re.search(r'href="(/s/[^"?]+)"', httpx.get(f"{portal}/", timeout=10).text)
        page = httpx.get(f"{portal}{school.group(1)}", timeout=10).text if school else ""
        disclosure = re.search(r'href="(/d/[^"?]+)"', page)
    except httpx.HTTPError:
        return
    say("\nOpen in a browser (the portal, the simulated city):")
    if school:
        say(f"  a school's page     {portal}{school.group(1)}")
    if disclosure:
        say(f"  its disclosure      {portal}{disclosure.group(1)}   (press 验证 / Verify: your browser checks the ledger)")
    say(f"  sign in             {portal}/signin   (a parent: role 家长 and a guardian id from the messages above; "
        "the bureau: 市教育局 -> /bureau; an auditor -> /auditor)")


if __name__ == "__main__":
    sys.exit(main())
