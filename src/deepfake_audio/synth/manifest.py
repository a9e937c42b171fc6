"""The output manifest (same columns as the dev corpus, plus `source_path` and `params`), saved atomically."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from deepfake_audio.errors import ProtocolError
from deepfake_audio.text_input import open_utf8

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = (
    "path",
    "label",
    "system",
    "speaker",
    "text",
    "source",
    "source_repo",
    "license",
    "duration_s",
    "original_sample_rate",
    "source_path",
    "params",
)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a manifest-style CSV with a `path` column; malformed files raise `ProtocolError`."""
    try:
        with open_utf8(path) as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise ProtocolError(f"{path}:1: expected a header with a 'path' column")
            rows = []
            for row in reader:
                if None in row or row.get("path") in (None, ""):
                    raise ProtocolError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames)} fields")
                rows.append(row)
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ProtocolError(f"{path}: cannot read manifest ({e})") from e


class Manifest:
    """Rows keyed by output path; `save` rewrites the file via a temporary file and `os.replace`."""

    def __init__(self, path: Path, save_interval_s: float = 2.0) -> None:
        self.path = path
        self.save_interval_s = save_interval_s
        self.rows: dict[str, dict[str, str]] = {}
        self.columns = list(MANIFEST_COLUMNS)
        self._last_save = 0.0
        if path.exists():
            for row in read_csv_rows(path):
                self.rows[row["path"]] = row
                self.columns += [c for c in row if c not in self.columns]

    def __contains__(self, rel_path: str) -> bool:
        return rel_path in self.rows

    def add(self, row: dict[str, str]) -> None:
        """Insert or replace the row for `row['path']`."""
        self.rows[row["path"]] = row
        self.columns += [c for c in row if c not in self.columns]

    def save(self, force: bool = True) -> None:
        """Write all rows atomically; without `force`, at most once per `save_interval_s`."""
        now = time.monotonic()
        if not force and now - self._last_save < self.save_interval_s:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".part")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows[k] for k in sorted(self.rows))
        os.replace(tmp, self.path)
        self._last_save = now
