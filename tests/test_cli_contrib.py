"""contrib/'s systemd unit and Dockerfile run commands this CLI accepts: their command
lines are parsed with cli.py's own parser (no docker or systemd is run here), and the
sample config file loads."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

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
