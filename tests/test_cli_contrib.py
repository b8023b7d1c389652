"""contrib/'s systemd unit and Dockerfile run commands this CLI accepts: their command
lines are parsed with cli.py's own parser, and the sample config file loads. Where the
tools exist, systemd-analyze verifies the unit, and (-m slow, with a docker daemon) the
image is built and run on a volume; elsewhere those tests skip."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tandemkv import cli
from tandemkv.config import load_config

CONTRIB = Path(__file__).resolve().parents[1] / "contrib"


def test_the_systemd_unit_runs_a_server_with_a_persistent_data_directory() -> None:
    unit = (CONTRIB / "tandemkv.service").read_text()
    [line] = re.findall(r"^ExecStart=(.*)$", unit, re.MULTILINE)
    program, *argv = shlex.split(line)
    assert program.endswith("/tandemkv")
    args = cli.build_parser().parse_args(argv)
    assert args.verb == "server"
    assert args.db_path.startswith("/var/lib/tandemkv")  # under StateDirectory=tandemkv
    assert "StateDirectory=tandemkv" in unit
    statuses = re.findall(r"^RestartPreventExitStatus=(.*)$", unit, re.MULTILINE)
    assert statuses == [f"{cli.EXIT_USAGE} {cli.EXIT_DATA_DIR}"]


def test_the_dockerfile_runs_a_server_on_its_volume() -> None:
    text = (CONTRIB / "Dockerfile").read_text()
    entry = json.loads(re.findall(r"^ENTRYPOINT (.*)$", text, re.MULTILINE)[0])
    command = json.loads(re.findall(r"^CMD (.*)$", text, re.MULTILINE)[0])
    assert entry == ["tandemkv"]
    args = cli.build_parser().parse_args(command)
    assert args.verb == "server"
    volumes = json.loads(re.findall(r"^VOLUME (.*)$", text, re.MULTILINE)[0])
    assert args.db_path in volumes
    assert "TANDEMKV_REQUIREPASS" in text  # 0.0.0.0 needs a password (protected mode)


def test_the_sample_config_loads() -> None:
    config = load_config({"config_file": str(CONTRIB / "tandemkv.toml")}, env={})
    assert config.address == "127.0.0.1:7000"


# ------------------------------------------------------------------ the real tools, where present


def _tool_works(*command: str) -> bool:
    if shutil.which(command[0]) is None:
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """The unit as systemd reads it: no unknown keys or bad values. verify wants the
    program to exist, so it is pointed at a stand-in."""
    stand_in = tmp_path / "tandemkv"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    unit = (CONTRIB / "tandemkv.service").read_text()
    (tmp_path / "tandemkv.service").write_text(
        unit.replace("/opt/tandemkv/bin/tandemkv", str(stand_in))
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "tandemkv.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "tandemkv.service" not in result.stderr, result.stderr  # warnings name the file


@pytest.mark.slow
def test_the_container_serves_and_keeps_its_volume() -> None:
    """Build the image, run it on a volume, write, restart the container, read back.
    Slow (an image build, which may need the network): run with -m slow."""
    if not _tool_works("docker", "info"):
        pytest.skip("no docker daemon here")
    repo = CONTRIB.parent
    tag = f"tandemkv-smoke-{os.getpid()}"
    volume = f"{tag}-data"
    build = ["docker", "build", "-q", "-f", str(CONTRIB / "Dockerfile"), "-t", tag, str(repo)]
    subprocess.run(build, check=True, capture_output=True, timeout=900)
    name = f"{tag}-run"
    run = ["docker", "run", "-d", "--name", name, "-v", f"{volume}:/data"]
    run += ["-e", "TANDEMKV_REQUIREPASS=smoke", tag]
    try:
        subprocess.run(run, check=True, capture_output=True, timeout=60)
        assert _docker_cli(name, "put", "k", "kept") == "OK"
        subprocess.run(["docker", "restart", name], check=True, capture_output=True, timeout=60)
        assert _docker_cli(name, "get", "k") == "kept"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


def _docker_cli(container: str, *verb: str) -> str:
    """Run a verb of the image's own CLI, retrying while the server starts."""
    argv = ["docker", "exec", container, "tandemkv", "--server", "127.0.0.1:7000"]
    argv += ["--password", "smoke", *verb]
    deadline = time.monotonic() + 30
    while True:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, result.stderr
            return result.stdout.strip()
        time.sleep(0.5)
