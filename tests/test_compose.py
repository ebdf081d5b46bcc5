"""docker-compose.yml cannot run here (no Docker engine), so check what it names really exists."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import REPO, newsingest_bin

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
OURS = [name for name, service in SERVICES.items() if "build" in service]
# Ours run the `newsingest` entry point; Flower runs Celery's own command from the same image.
CLI_SERVICES = [name for name in OURS if "entrypoint" not in SERVICES[name]]


def test_the_stack_has_every_part() -> None:
    assert set(SERVICES) == {
        "postgres", "redis", "migrate", "worker", "crawler", "beat", "page", "flower"
    }  # fmt: skip
    assert "--appendonly" in SERVICES["redis"]["command"]
    assert (
        SERVICES["redis"]["command"][SERVICES["redis"]["command"].index("--appendonly") + 1]
        == "yes"
    )


def test_ingest_and_crawls_run_in_separate_pools() -> None:
    # The queue names the settings give by default: an ingest queue and its crawl queue.
    from worker.config import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    queues = {
        name: SERVICES[name]["command"][SERVICES[name]["command"].index("--queues") + 1]
        for name in ("worker", "crawler")
    }
    assert queues == {"worker": settings.queue, "crawler": settings.crawl_queue}


def test_every_setting_in_env_reaches_the_containers_but_the_stacks_own_urls_win() -> None:
    for name in OURS:
        assert SERVICES[name]["env_file"] == [".env"]
        assert SERVICES[name]["environment"]["NEWSINGEST_BROKER_URL"] == "redis://redis:6379/0"
    # Copying .env.example to .env in a checkout must not move the local CLI off its embedded
    # database: no URL is set there, only commented.
    example = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    active = [line for line in example if line and not line.startswith("#")]
    assert not [
        line
        for line in active
        if line.startswith(("NEWSINGEST_DATABASE_URL", "NEWSINGEST_BROKER_URL"))
    ]


@pytest.mark.parametrize("service", ["crawler", "beat"])
def test_the_crawl_side_reads_a_mounted_sources_file(service: str) -> None:
    (mount,) = SERVICES[service]["volumes"]
    source, target, mode = mount.rsplit(":", 2)
    assert source == "${NEWSINGEST_SOURCES_FILE:-./examples/sources.toml}"
    assert (REPO / "examples" / "sources.toml").is_file()
    assert (target, mode) == (SERVICES[service]["environment"]["NEWSINGEST_SOURCES"], "ro")


def test_flower_monitors_the_queues_on_request_from_the_same_image() -> None:
    flower = SERVICES["flower"]
    assert flower["profiles"] == ["monitor"]
    assert flower["entrypoint"][:3] == ["celery", "--app", "worker.app"]
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    assert "'.[monitor]'" in (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "flower" in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_the_status_page_listens_in_the_stack_and_is_published_by_the_override_only() -> None:
    page = SERVICES["page"]
    command = page["command"]
    assert command[0] == "serve"
    # Inside its container, so that other containers and the published port reach it.
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104
    port = command[command.index("--port") + 1]
    assert "ports" not in page
    override = yaml.safe_load((REPO / "docker-compose.ports.yml").read_text(encoding="utf-8"))
    assert override["services"]["page"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    serve_help = subprocess.run(
        [newsingest_bin(), "serve", "--help"], capture_output=True, text=True, check=False
    ).stdout
    assert "--host" in serve_help
    assert "--port" in serve_help


def test_the_ports_override_publishes_on_loopback_only() -> None:
    override = yaml.safe_load((REPO / "docker-compose.ports.yml").read_text(encoding="utf-8"))
    assert set(override["services"]) <= set(SERVICES)
    for service in override["services"].values():
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])


@pytest.mark.parametrize("service", CLI_SERVICES)
def test_each_command_exists_in_the_cli(service: str) -> None:
    command = SERVICES[service]["command"]
    result = subprocess.run(
        [newsingest_bin(), command[0], "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", OURS)
def test_each_of_ours_waits_for_its_servers(service: str) -> None:
    needs = SERVICES[service]["depends_on"]
    assert {"postgres", "redis"} <= set(needs) or needs == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    environment = SERVICES[service]["environment"]
    assert environment["NEWSINGEST_DATABASE_URL"].startswith("postgresql://")
    assert environment["NEWSINGEST_BROKER_URL"] == "redis://redis:6379/0"


def test_the_image_installs_the_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["newsingest"]' in dockerfile
    for path in ("schemas", "worker", "migrations", "pyproject.toml"):
        assert path in dockerfile
        assert (REPO / path).exists()
