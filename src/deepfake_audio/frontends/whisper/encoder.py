"""Whisper's audio encoder, returning every hidden state.

Names follow openai-whisper's `AudioEncoder` (`conv1`, `blocks.N.attn.query`, `ln_post`, ...), so its
checkpoints load directly and the other formats are mapped onto them (`weights.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

MAX_POSITIONS = 1500  # 30 s of audio after the stride-2 convolution: Whisper's longest input


@dataclass(frozen=True)
class EncoderDims:
    n_mels: int
    width: int
    layers: int
    heads: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width, bias=False)  # Whisper's key projection has no bias
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, frames, self.heads, width // self.heads).transpose(1, 2)

        # Whisper scales queries and keys by head_dim**-0.25 each: the same as SDPA's default 1/sqrt(head_dim).
        attended = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)))
        return self.out(attended.transpose(1, 2).reshape(batch, frames, width))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn_ln = nn.LayerNorm(width)
        self.attn = _Attention(width, heads)
        self.mlp_ln = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x))
        return x + self.mlp(self.mlp_ln(x))


class WhisperEncoder(nn.Module):
    """`(batch, n_mels, frames)` log-mel -> `(batch, layers + 1, frames // 2, width)` hidden states.

    State 0 is the input to the first block (convolutions + positions); state i is block i's output; the
    last state has passed the final layer norm, as the encoder's own output does (and Hugging Face's
    `hidden_states`). Positional embeddings are cropped to the input, so nothing is padded to 30 s.
    """

    def __init__(self, dims: EncoderDims) -> None:
        super().__init__()
        self.dims = dims
        self.conv1 = nn.Conv1d(dims.n_mels, dims.width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(dims.width, dims.width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.zeros(MAX_POSITIONS, dims.width))
        self.blocks = nn.ModuleList(_Block(dims.width, dims.heads) for _ in range(dims.layers))
        self.ln_post = nn.LayerNorm(dims.width)

    def forward(self, mel: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """Hidden states; with `layers`, only the first `layers` blocks run (and no final norm unless all do)."""
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        frames = x.shape[1]
        if frames > MAX_POSITIONS:
            raise ValueError(f"Whisper's encoder takes at most 30 s of audio; got {frames} frames")
        x = x + self.positional_embedding[:frames].to(x.dtype)
        run = len(self.blocks) if layers is None else layers
        return torch.stack([x, *self.run_blocks(x, 0, run)], dim=1)

    def run_blocks(self, x: torch.Tensor, first: int, stop: int) -> list[torch.Tensor]:
        """States after blocks `first` .. `stop - 1`, from `x`, the state entering block `first`
        `(batch, frames, width)`; fine-tuning from cached states starts part-way up."""
        states = []
        for block in self.blocks[first:stop]:
            x = block(x)
            states.append(x)
        if states and stop == self.dims.layers:  # the final norm follows the last block only
            states[-1] = self.ln_post(x)
        return states
