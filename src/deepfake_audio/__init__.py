"""deepfake-audio: tell real speech from machine-made speech.

The public API is small: `Detector` scores recordings, `load_audio` reads any audio source, and the
`models` registry builds architectures. Everything else is reached through its submodule.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("deepfake-audio")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from deepfake_audio.audio import SAMPLE_RATE, load_audio
from deepfake_audio.detector import Detector, Prediction

__all__ = ["SAMPLE_RATE", "Detector", "Prediction", "__version__", "load_audio"]
