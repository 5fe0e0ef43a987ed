"""The city-scale deployment files are valid, though no Docker engine runs here."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "deploy" / "compose.yaml"


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose missing (tests/setup/ensure_compose.sh installs it)")
def test_compose_file_is_valid_and_needs_a_password() -> None:
    env = {**os.environ, "CITYOPS_DB_PASSWORD": "test-only"}
    ok = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    env.pop("CITYOPS_DB_PASSWORD")
    refused = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "CITYOPS_DB_PASSWORD" in refused.stderr


def test_compose_runs_kafka_postgres_and_sharded_workers() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres")
    shards = sorted(cmd["command"][-1] for name, cmd in services.items() if name.startswith("video-"))
    n = len(shards)
    assert shards == [f"{i}/{n}" for i in range(n)]
    assert services["analytics"]["command"][:2] == ["cityops", "analytics"]


def test_dockerfile_installs_requirements_then_runs_the_demo() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    text = "\n".join(lines)
    assert text.index("COPY requirements.txt") < text.index("pip install -r requirements.txt")
    assert "COPY deps ./deps" in text  # requirements.txt installs ./deps/dlib
    assert lines[-1] == 'CMD ["cityops", "demo", "--host", "0.0.0.0"]'
    assert "torch" not in text  # the runtime needs no torch: models run on onnxruntime
