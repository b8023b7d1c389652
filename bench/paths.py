"""Where the harness finds the code under test and writes what it measured."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC_DIR = REPO_ROOT / "src"
DEFAULT_OUT_DIR = REPO_ROOT / "docs"
DEFAULT_RESULTS_DIR = REPO_ROOT / "bench" / "results"
FINDINGS_FILE = REPO_ROOT / "bench" / "findings.md"
REPORT_NAME = "benchmarks.md"
IMG_DIR_NAME = "img"
