"""WaveFake (Frank & Schönherr, NeurIPS 2021): vocoded LJSpeech and JSUT, one folder per generator.

Layout (`root` is the WaveFake folder holding `generated_audio/`, or `generated_audio/` itself)::

    generated_audio/ljspeech_melgan/LJ001-0001_gen.wav ...   (ljspeech_hifiGAN/, jsut_parallel_wavegan/, ...)
    real_audio/LJSpeech-1.1/wavs/LJ001-0001.wav                 (downloaded separately)
    real_audio/jsut_ver1.1/basic5000/wav/BASIC5000_0001.wav

The archive itself is spoof-only: the bona fide side is the source corpus, found in `root/real_audio/`,
`root/` or beside `root`, or given as `ljspeech_root=` / `jsut_root=`. Only the files directly inside
each generator folder are read, and only JSUT's basic5000 part, which is what WaveFake vocoded.
"""

from __future__ import annotations

import logging
from pathlib import Path

from deepfake_audio.data.corpora.common import first_existing, list_audio, refuse_subset
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.errors import ProtocolError

logger = logging.getLogger(__name__)

REAL_SOURCES = {
    # source: (speaker, language, folder name of the corpus, audio folder inside it)
    "ljspeech": ("LJ", "en", "LJSpeech-1.1", "wavs"),
    "jsut": ("jsut", "ja", "jsut_ver1.1", "basic5000/wav"),
}


def source_of(generator: str) -> str:
    """Which real corpus a generator folder vocoded: `jsut_*` folders JSUT, all others LJSpeech."""
    return "jsut" if generator.lower().startswith("jsut") else "ljspeech"


def real_audio_folder(root: Path, source: str, given: str | Path | None) -> Path | None:
    """The audio folder of a real corpus: the given one (checked), or the first usual place that exists."""
    _, _, corpus, inner = REAL_SOURCES[source]
    if given is not None:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            raise ProtocolError(f"{folder}: {corpus} folder not found")
        return folder / inner if (folder / inner).is_dir() else folder
    found = first_existing(
        base / corpus / inner for base in (root / "real_audio", root, root.parent, root.parent / "real_audio")
    )
    return found


def folder_trials(folder: Path, source: str, label: Label) -> list[Trial]:
    """A trial per audio file directly in `folder`; ids start with the generator (spoof) or source name."""
    speaker, language, _, _ = REAL_SOURCES[source]
    prefix = system = folder.name
    if label is Label.BONAFIDE:
        prefix, system = source, "bonafide"
    return [
        Trial(
            utterance_id=f"{prefix}/{path.stem}",
            path=path,
            label=label,
            system=system,
            speaker=speaker,
            source=source,
            extra={"language": language},
        )
        for path in list_audio(folder, recursive=False)
    ]


def read_wavefake(
    root: Path,
    *,
    subset: str | None = None,
    ljspeech_root: str | Path | None = None,
    jsut_root: str | Path | None = None,
) -> list[Trial]:
    """Read every generator folder as spoofs, plus the LJSpeech/JSUT originals as bona fide when found."""
    refuse_subset(subset, "wavefake")
    generated = root / "generated_audio" if (root / "generated_audio").is_dir() else root
    if generated.name == "generated_audio":
        root = generated.parent
    not_generators = {"real_audio"} | {corpus for _, _, corpus, _ in REAL_SOURCES.values()}
    generators = [d for d in sorted(generated.iterdir()) if d.is_dir() and d.name not in not_generators]
    trials: list[Trial] = []
    for folder in generators:
        trials += folder_trials(folder, source_of(folder.name), Label.SPOOF)
    if not trials:
        raise ProtocolError(f"{generated}: no generator folders with audio (is root the WaveFake folder?)")
    needed = {t.source for t in trials}
    given = {"ljspeech": ljspeech_root, "jsut": jsut_root}
    for source in sorted(needed | {s for s, g in given.items() if g is not None}):
        folder = real_audio_folder(root, source, given[source])
        if folder is None:
            corpus = REAL_SOURCES[source][2]
            logger.warning("WaveFake: %s not found near %s; its bona fide side is left out", corpus, root)
            continue
        trials += folder_trials(folder, source, Label.BONAFIDE)
    return trials
