"""The storage formats (mutation codec, record framing, segment scan) do no I/O of their own.

They are what the replication simulator and the fuzz tests drive directly, so an `os` or
`time` import creeping in would make them environment-dependent.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STORAGE = Path(__file__).resolve().parents[2] / "src" / "tandemkv" / "storage"
PURE_FORMATS = ["codec.py", "record.py", "segment.py", "wire.py", "errors.py"]
ALLOWED = {
    "__future__",
    "array",
    "collections.abc",
    "dataclasses",
    "enum",
    "re",
    "struct",
    "typing",
    "google_crc32c",
}
ALLOWED_OWN = {f"tandemkv.storage.{name.removesuffix('.py')}" for name in PURE_FORMATS} | {
    "tandemkv.storage.mutation"
}


def imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


@pytest.mark.parametrize("name", PURE_FORMATS)
def test_format_modules_import_only_pure_things(name: str) -> None:
    for module in imports(STORAGE / name):
        assert module in ALLOWED or module in ALLOWED_OWN, f"{name} imports {module}"
