"""docker-compose.yml cannot run here (no Docker engine), so check what it names really exists."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import REPO, newsingest_bin

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
OURS = [name for name, service in SERVICES.items() if "build" in service]


def test_the_stack_has_every_part() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "worker", "crawler", "beat"}
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


@pytest.mark.parametrize("service", OURS)
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
