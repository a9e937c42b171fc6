"""Write a benchmark's measured table into BENCHMARKS.md, between markers, replacing the last run's."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(name: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace the text between `<!-- name:begin -->` and `<!-- name:end -->` (append the section if new)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n## {name}\n\n{block}\n"
    path.write_text(text)


def publish(name: str, lines: list[str], write: bool = True) -> None:
    """Print a measured table and, unless `write` is false (`--no-write`), put it in BENCHMARKS.md."""
    body = "\n".join(lines) + "\n"
    print(body)
    if write:
        write_section(name, body)
