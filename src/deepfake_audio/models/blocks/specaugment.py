"""SpecAugment-style masking (Park et al., 2019) for `(batch, feat, frames)` features, training mode only."""

from __future__ import annotations

import torch
from torch import nn


def _band_mask(batch: int, size: int, count: int, max_width: int, device: torch.device) -> torch.Tensor:
    """`(batch, size)` boolean mask: `count` random spans of width 0..max_width per example."""
    mask = torch.zeros(batch, size, dtype=torch.bool, device=device)
    if count == 0 or max_width == 0 or size == 0:
        return mask
    positions = torch.arange(size, device=device)
    max_width = min(max_width, size)
    for _ in range(count):
        width = torch.randint(0, max_width + 1, (batch, 1), device=device)
        start = (torch.rand(batch, 1, device=device) * (size - width + 1)).floor().long()
        mask |= (positions >= start) & (positions < start + width)
    return mask


class SpecAugment(nn.Module):
    """Zero random frequency bands and time spans of `(batch, feat, frames)` features while training.

    Identity in `eval()` mode, so inference stays deterministic. Place it after input normalisation, so
    that the zero fill equals the feature mean.
    """

    def __init__(
        self, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2, time_width: int = 20
    ) -> None:
        super().__init__()
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        batch, feat, frames = x.shape
        freq = _band_mask(batch, feat, self.freq_masks, self.freq_width, x.device)  # (batch, feat)
        time = _band_mask(batch, frames, self.time_masks, self.time_width, x.device)  # (batch, frames)
        return x.masked_fill(freq[:, :, None] | time[:, None, :], 0.0)

    def extra_repr(self) -> str:
        return (
            f"freq_masks={self.freq_masks}, freq_width={self.freq_width}, "
            f"time_masks={self.time_masks}, time_width={self.time_width}"
        )


__all__ = ["SpecAugment"]
