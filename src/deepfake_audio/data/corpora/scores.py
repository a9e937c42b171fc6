"""Score files in the formats the official evaluation scripts read. Higher scores mean more bona fide.

- `asvspoof2019`: `utt_id system key score`, as read by the ASVspoof 2019 t-DCF package
  (`tDCF_python_v2`) and written by AASIST, e.g. `LA_E_2834763 A11 spoof -4.1532` (system `-` for bona fide).
- `asvspoof5`: tab separated with the header `filename<TAB>cm-score`, as read by the ASVspoof 5
  evaluation package, e.g. `E_000001<TAB>0.01`.
- `two-column`: `utt_id score`, the ASVspoof 2021 LA/DF submission format (the DF script rejects more
  columns), used for every other corpus too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from deepfake_audio.data.trial import Trial
from deepfake_audio.errors import ProtocolError
from deepfake_audio.text_input import open_utf8

SCORE_FORMATS = ("asvspoof2019", "asvspoof5", "two-column")
ASVSPOOF5_HEADER = ("filename", "cm-score")
KEYS = ("bonafide", "spoof")


def align_scores(trials: Sequence[Trial], scores: Sequence[float] | Mapping[str, float]) -> list[float]:
    """Scores in trial order, from a sequence aligned with `trials` or a mapping keyed by utterance id."""
    if isinstance(scores, Mapping):
        absent = [t.utterance_id for t in trials if t.utterance_id not in scores]
        if absent:
            raise ValueError(f"{len(absent)} trials have no score, e.g. {absent[0]!r}")
        values = [float(scores[t.utterance_id]) for t in trials]
    else:
        values = [float(s) for s in scores]
        if len(values) != len(trials):
            raise ValueError(f"got {len(values)} scores for {len(trials)} trials")
    bad = next((t.utterance_id for t, s in zip(trials, values) if not math.isfinite(s)), None)
    if bad is not None:
        raise ValueError(f"score of trial {bad!r} is not finite; official scoring tools cannot read it")
    return values


def score_lines(score_format: str, trials: Sequence[Trial], values: Sequence[float]) -> list[str]:
    """The lines of a score file, header included."""
    for trial in trials:
        if any(c in trial.utterance_id for c in "\t\r\n") or (
            score_format == "asvspoof2019" and any(c.isspace() for c in trial.utterance_id)
        ):
            raise ValueError(
                f"utterance id {trial.utterance_id!r} cannot be written to a {score_format} score file"
            )
    if score_format == "asvspoof2019":
        return [
            f"{t.utterance_id} {'-' if t.system in (None, 'bonafide') else t.system} {t.label.value} {s!r}"
            for t, s in zip(trials, values)
        ]
    if score_format == "asvspoof5":
        return ["\t".join(ASVSPOOF5_HEADER)] + [f"{t.utterance_id}\t{s!r}" for t, s in zip(trials, values)]
    if score_format == "two-column":
        return [f"{t.utterance_id} {s!r}" for t, s in zip(trials, values)]
    raise ValueError(f"unknown score format {score_format!r}; valid: {', '.join(SCORE_FORMATS)}")


def write_scores(
    score_format: str,
    trials: Sequence[Trial],
    scores: Sequence[float] | Mapping[str, float],
    path: str | Path,
) -> None:
    """Write one line per trial in `score_format`, trial id first."""
    lines = score_lines(score_format, trials, align_scores(trials, scores))
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def parse_score_line(line: str, path: Path, lineno: int) -> tuple[str, str]:
    """(utterance id, score text) from one headerless line of any supported format."""
    fields = line.split()
    if len(fields) == 4 and fields[2].lower() in KEYS:
        return fields[0], fields[3]  # asvspoof2019: utt_id system key score
    if len(fields) < 2:
        raise ProtocolError(f"{path}:{lineno}: expected an utterance id and a score, got {len(fields)} field")
    utt_id, score = line.strip().rsplit(None, 1)  # ids may hold spaces (folder corpora); scores do not
    return utt_id, score


def read_score_file(path: str | Path) -> dict[str, float]:
    """Read any format `write_score_file` writes (detected from the content) into `{utterance_id: score}`."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(f"{path}: score file not found")
    scores: dict[str, float] = {}
    columns: list[str] | None = None
    with open_utf8(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if columns is None and not scores and ASVSPOOF5_HEADER[0] in line.split() and "cm-score" in line:
                columns = line.split()
                continue
            if columns is not None:
                fields = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
                if len(fields) != len(columns):
                    raise ProtocolError(f"{path}:{lineno}: expected {len(columns)} fields, got {len(fields)}")
                row = dict(zip(columns, fields))
                utt_id, text = row["filename"], row["cm-score"]
            else:
                utt_id, text = parse_score_line(line, path, lineno)
            try:
                value = float(text)
            except ValueError:
                raise ProtocolError(f"{path}:{lineno}: score {text!r} is not a number") from None
            if utt_id in scores:
                raise ProtocolError(f"{path}:{lineno}: utterance id {utt_id!r} appears twice")
            scores[utt_id] = value
    return scores
