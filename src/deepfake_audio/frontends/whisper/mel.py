"""Whisper's log-mel spectrogram as a batched torch module: `(batch, time)` at 16 kHz -> `(batch, n_mels, frames)`.

Same definition as openai-whisper's `log_mel_spectrogram`: a centred, reflect-padded 400-point STFT with a
periodic Hann window and a 160-sample hop, the last frame dropped, power through a Slaney mel filterbank,
log10 floored at 1e-10, values more than 8 (80 dB) below each clip's peak raised to it, then `(x + 4) / 4`.
The one difference is on purpose: the audio is not padded to 30 s, so a clip's frames (and the encoder's
cost) follow its length.
"""

from __future__ import annotations

import torch
from torch import nn

from deepfake_audio.features import mel_filterbank

N_FFT = 400
HOP_LENGTH = 160
SAMPLE_RATE = 16_000


class WhisperLogMel(nn.Module):
    def __init__(self, n_mels: int = 80) -> None:
        super().__init__()
        self.n_mels = n_mels
        filters = torch.from_numpy(mel_filterbank(SAMPLE_RATE, N_FFT, n_mels)).float()
        self.register_buffer("filters", filters, persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)

    @staticmethod
    def num_frames(num_samples: int) -> int:
        return num_samples // HOP_LENGTH

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.shape[-1] <= N_FFT // 2:
            # Reflect padding needs more samples than half the FFT; repeat very short input (the Detector
            # never sends one: windows are at least a second long).
            repeats = N_FFT // 2 // max(1, waveform.shape[-1]) + 1
            waveform = waveform.repeat(1, repeats)
        spectrum = torch.stft(waveform.float(), N_FFT, HOP_LENGTH, window=self.window.to(waveform.device),
                              center=True, pad_mode="reflect", return_complex=True)
        power = spectrum[..., :-1].abs().square()
        mel = self.filters.to(power.device) @ power
        log_mel = torch.clamp(mel, min=1e-10).log10()
        peak = log_mel.amax(dim=(-2, -1), keepdim=True)
        log_mel = torch.maximum(log_mel, peak - 8.0)
        return (log_mel + 4.0) / 4.0
