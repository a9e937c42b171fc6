"""AASIST and AASIST-L (Jung et al., "AASIST: Audio anti-spoofing using integrated spectro-temporal
graph attention networks", ICASSP 2022), rebuilt from the paper and the layer sizes of the authors'
configurations (`AASIST.conf`, `AASIST-L.conf`).

waveform -> fixed mel sinc filterbank (70 bands) -> |.| -> 3x3 max-pool -> six 2-D residual blocks over
(band, time) -> spectral nodes (max over time) and temporal nodes (max over bands) -> one graph attention
layer + pooling per domain -> two parallel branches of two heterogeneous graph attention layers with a
master node -> element-wise max of the branches -> readout (max |.| and mean of each node set, master)
-> linear -> 2 logits. With the reference settings the parameter counts are 297,866 (AASIST) and 85,306
(AASIST-L).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_audio.errors import ConfigError
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.blocks.graph import GraphAttention, GraphPool, HeteroGraphAttention
from deepfake_audio.models.blocks.sinc import SincFilterbank
from deepfake_audio.models.registry import register_model


class ResidualBlock2d(nn.Module):
    """Residual block over `(channels, bands, time)` with a 1x3 max-pool that divides time by 3.

    The (2, 3) kernels with asymmetric padding keep the band axis length. The authors' code builds a
    pre-activation (BN + SELU) for every block but the first and then feeds the block input, not the
    pre-activated tensor, to the first convolution; `pre_activation=False` reproduces that, `True`
    uses the pre-activation. The layer exists either way, so parameter counts do not change.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool, pre_activation: bool) -> None:
        super().__init__()
        self.bn1 = None if first else nn.BatchNorm2d(in_channels)
        self.pre_activation = pre_activation and not first
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1))
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.selu(self.bn1(x)) if self.pre_activation else x
        out = self.conv1(out)  # (batch, out, bands + 1, time)
        out = self.conv2(F.selu(self.bn2(out)))  # (batch, out, bands, time)
        return F.max_pool2d(out + self.shortcut(x), (1, 3))  # (batch, out, bands, time // 3)


class _AASISTBase(DetectorModel):
    """Shared implementation; `aasist` and `aasist-l` differ only in their default sizes."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0375  # seconds: the reference crops to 64,600 samples
        sinc_filters: int = 70
        sinc_kernel_size: int = 128  # rounded up to 129 (odd, symmetric filters)
        encoder_channels: tuple[int, ...] = (32, 32, 64, 64)  # residual stages; the last one repeats 3x
        gat_dims: tuple[int, int] = (64, 32)
        pool_ratios: tuple[float, ...] = (0.5, 0.7, 0.5, 0.5)  # 4th is unused, as in the reference
        temperatures: tuple[float, ...] = (2.0, 2.0, 100.0, 100.0)  # 4th is unused, as in the reference
        pre_activation: bool = False  # see ResidualBlock2d; False reproduces the reference code
        # True computes the fixed sinc filters with the reference code's float32 rounding (see
        # blocks/sinc.py), as the official weights were trained with; `import-checkpoint` sets it.
        sinc_float32_grid: bool = False
        dropout: float = 0.5  # before the output layer
        branch_dropout: float = 0.2  # on each branch's node sets before they are merged

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, _AASISTBase.Config)
        stages = [int(c) for c in config.encoder_channels]
        if len(stages) != 4:
            raise ConfigError(f"encoder_channels needs 4 stage widths, got {config.encoder_channels!r}")
        gat_in, gat_out = (int(d) for d in config.gat_dims)
        ratios = [float(r) for r in config.pool_ratios]
        temps = [float(t) for t in config.temperatures]

        self.sinc = SincFilterbank(config.sinc_filters, config.sinc_kernel_size, config.sample_rate,
                                   float32_grid=config.sinc_float32_grid)
        self.first_bn = nn.BatchNorm2d(1)
        widths = [1, *stages, stages[-1], stages[-1]]  # six blocks: 1->s0, s0->s1, s1->s2, s2->s3, s3, s3
        self.encoder = nn.Sequential(
            *(
                ResidualBlock2d(widths[i], widths[i + 1], first=i == 0, pre_activation=config.pre_activation)
                for i in range(6)
            )
        )
        num_bands = config.sinc_filters // 3  # after the 3x3 max-pool on (band, time)
        self.pos_spectral = nn.Parameter(torch.randn(1, num_bands, stages[-1]))
        self.master1 = nn.Parameter(torch.randn(1, 1, gat_in))
        self.master2 = nn.Parameter(torch.randn(1, 1, gat_in))

        self.gat_spectral = GraphAttention(stages[-1], gat_in, temperature=temps[0])
        self.gat_temporal = GraphAttention(stages[-1], gat_in, temperature=temps[1])
        self.pool_spectral = GraphPool(ratios[0], gat_in)
        self.pool_temporal = GraphPool(ratios[1], gat_in)

        self.hs_gal11 = HeteroGraphAttention(gat_in, gat_out, temperature=temps[2])
        self.hs_gal12 = HeteroGraphAttention(gat_out, gat_out, temperature=temps[2])
        self.hs_gal21 = HeteroGraphAttention(gat_in, gat_out, temperature=temps[2])
        self.hs_gal22 = HeteroGraphAttention(gat_out, gat_out, temperature=temps[2])
        self.pool_spectral1 = GraphPool(ratios[2], gat_out)
        self.pool_temporal1 = GraphPool(ratios[2], gat_out)
        self.pool_spectral2 = GraphPool(ratios[2], gat_out)
        self.pool_temporal2 = GraphPool(ratios[2], gat_out)

        self.branch_drop = nn.Dropout(config.branch_dropout)
        self.drop = nn.Dropout(config.dropout)
        self.out_layer = nn.Linear(5 * gat_out, 2)

    def _branch(
        self,
        temporal: torch.Tensor,
        spectral: torch.Tensor,
        master: torch.Tensor,
        first: HeteroGraphAttention,
        second: HeteroGraphAttention,
        pool_temporal: GraphPool,
        pool_spectral: GraphPool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One inference branch: HS-GAL, pooling, then a residual HS-GAL."""
        temporal, spectral, master = first(temporal, spectral, master=master)
        temporal, spectral = pool_temporal(temporal), pool_spectral(spectral)
        t_aug, s_aug, m_aug = second(temporal, spectral, master=master)
        return (
            self.branch_drop(temporal + t_aug),
            self.branch_drop(spectral + s_aug),
            self.branch_drop(master + m_aug),
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.sinc(waveform).unsqueeze(1)  # (batch, 1, filters, samples')
        x = F.selu(self.first_bn(F.max_pool2d(x.abs(), 3)))  # (batch, 1, bands, frames)
        e = self.encoder(x)  # (batch, channels, bands, frames')

        spectral = e.abs().amax(dim=3).transpose(1, 2) + self.pos_spectral  # (batch, bands, channels)
        spectral = self.pool_spectral(self.gat_spectral(spectral))  # (batch, bands', gat_in)
        temporal = e.abs().amax(dim=2).transpose(1, 2)  # (batch, frames', channels)
        temporal = self.pool_temporal(self.gat_temporal(temporal))  # (batch, frames'', gat_in)

        t1, s1, m1 = self._branch(
            temporal,
            spectral,
            self.master1,
            self.hs_gal11,
            self.hs_gal12,
            self.pool_temporal1,
            self.pool_spectral1,
        )
        t2, s2, m2 = self._branch(
            temporal,
            spectral,
            self.master2,
            self.hs_gal21,
            self.hs_gal22,
            self.pool_temporal2,
            self.pool_spectral2,
        )
        temporal, spectral, master = torch.maximum(t1, t2), torch.maximum(s1, s2), torch.maximum(m1, m2)

        hidden = torch.cat(
            [
                temporal.abs().amax(dim=1),
                temporal.mean(dim=1),
                spectral.abs().amax(dim=1),
                spectral.mean(dim=1),
                master.squeeze(1),
            ],
            dim=1,
        )  # (batch, 5 * gat_out)
        return self.out_layer(self.drop(hidden))  # (batch, 2)


@register_model("aasist")
class AASIST(_AASISTBase):
    """AASIST with the reference `AASIST.conf` sizes (297,866 parameters)."""


@register_model("aasist-l")
class AASISTL(_AASISTBase):
    """AASIST-L, the light variant with the reference `AASIST-L.conf` sizes (85,306 parameters)."""

    @dataclass
    class Config(_AASISTBase.Config):
        encoder_channels: tuple[int, ...] = (32, 32, 24, 24)
        gat_dims: tuple[int, int] = (24, 32)
        pool_ratios: tuple[float, ...] = (0.4, 0.5, 0.7, 0.5)
