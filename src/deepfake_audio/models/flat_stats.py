"""Flat-stats: a tiny classifier over speech-frame statistics of per-band spectral flatness.

Why: level-based features (log power, MFCC) let a model recognise the collection a clip came from,
which does not carry to new collections (bench/generalisation.py: pooled EER on held-out sources near
40% for the seed CNN and the log-spectrogram TCN). Spectral flatness per band ignores gain and smooth
channel colouration; a logistic regression over its per-band mean and spread already carries across
held-out sources far better than those networks (bench/feature_study.py). This model keeps that
simplicity on purpose: few parameters, pooled statistics, and no access to absolute level.

Frames more than `speech_range_db` below the window's loudest frame are left out of the statistics,
so leading/trailing silence and pauses (whose handling differs between real and generated corpora)
do not decide the verdict.

Lossy codecs and telephone lines cut the top of the band, which throws the statistics of the top bands
far off while the bands below barely move. The model can find each recording's bandwidth and either mask
the bands above it or hand band-limited recordings to a second classifier trained on masked statistics
(see `Config`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.features import BandFlatness
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


def masked_mean_std(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of `x (batch, channels, frames)` over the frames where `mask (batch, frames)`."""
    weight = mask.to(x.dtype).unsqueeze(1)
    count = weight.sum(dim=2).clamp(min=1.0)
    mean = (x * weight).sum(dim=2) / count
    var = ((x - mean.unsqueeze(2)).square() * weight).sum(dim=2) / count
    return mean, torch.sqrt(var + 1e-6)


def temporal_log_flatness(log_power: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log of geometric over arithmetic mean of `exp(log_power) (batch, channels, frames)` over masked frames."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(log_power.dtype)  # (batch, 1)
    weight = mask.to(log_power.dtype).unsqueeze(1)
    log_geometric = (log_power * weight).sum(dim=2) / count
    log_arithmetic = torch.logsumexp(log_power.masked_fill(~mask.unsqueeze(1), -torch.inf), dim=2) - count.log()
    return log_geometric - log_arithmetic


@register_model("flat-stats")
class FlatStats(DetectorModel):
    """Mean and spread of per-band log spectral flatness over speech frames, then a small MLP."""

    # Statistics pool over whatever frames there are, so a short clip needs no tiling: padded frames are
    # left out of every statistic (see `_analyse`).
    accepts_variable_length = True

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0
        n_fft: int = 512
        win_length: int = 400
        hop_length: int = 160
        bands: int = 32  # 250 Hz each at n_fft 512
        # Only bands wholly below this frequency feed the statistics. Lossy codecs low-pass the top of
        # the band (mp3 at 128 kbit/s near 7.3 kHz), which moves the flatness of the top bands by more
        # than ten standard deviations while leaving the bands below almost untouched.
        max_frequency_hz: float = 8000.0
        speech_range_db: float = 35.0
        # Spectral floor, in dB below each frame's loudest bin, added before the flatness is taken:
        # spectral detail below it is not seen (BandFlatness).
        spectral_floor_db: float = -80.0
        # Also the mean frame-to-frame change of log flatness per band (how steadily each band's
        # noisiness evolves), over consecutive speech frames.
        flatness_change: bool = False
        # Also each band's flatness over time: the log ratio of the geometric to the arithmetic mean of
        # its power across speech frames (how evenly the band's energy is spread in time). Like the
        # spectral flatness it ignores gain and a fixed channel colouration.
        level_flatness: bool = False
        hidden: int = 32  # 0: a linear classifier on the statistics
        dropout: float = 0.2
        # Classifiers trained side by side on the same statistics, from different starting weights,
        # whose logits are averaged: with a few hundred training spoofs, one classifier's verdicts
        # swing with its initialisation.
        members: int = 1
        # Bandwidth awareness. The recording's bandwidth ends at the first band above 1 kHz holding a
        # bin whose mean power over speech frames is more than `absent_band_db` below the loudest bin's
        # (a codec's low-pass, a telephone line, an 8 kHz original). The statistics of the bands above
        # are set to their training mean, and the classifier is told which bands were present, so a
        # missing band is neither evidence nor noise.
        mask_absent_bands: bool = False
        absent_band_db: float = 60.0
        # In training, this share of clips also loses every band above a cut drawn uniformly between
        # `min_band_cut` and the top, so the classifier learns to judge band-limited recordings.
        band_cut_p: float = 0.0
        min_band_cut: int = 14  # 3.5 kHz at 250 Hz per band: a telephone line keeps about this much
        band_flags: bool = True  # whether the classifier is told which bands were present
        # Instead of masking for every recording: the full-band classifier(s) above as they are, plus
        # one classifier trained on masked statistics (with the random cuts), which judges the
        # recordings whose bandwidth ends below `full_band_hz` (mp3 at 128 kbit/s ends near 7.3 kHz).
        band_limited_head: bool = False
        full_band_hz: float = 7500.0

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, FlatStats.Config)
        self.frontend = BandFlatness(
            config.n_fft, config.hop_length, config.win_length, config.bands, floor_db=config.spectral_floor_db
        )
        if config.members < 1:
            raise ValueError(f"members must be at least 1; got {config.members}")
        band_hz = config.sample_rate / 2 / config.bands
        self.num_bands = int(config.max_frequency_hz // band_hz + 1e-9)
        if not 0 < self.num_bands <= config.bands:
            raise ValueError(f"max_frequency_hz must leave at least one band of {band_hz:g} Hz and be at most "
                             f"{config.sample_rate / 2:g}; got {config.max_frequency_hz}")
        self.finds_bandwidth = config.mask_absent_bands or config.band_limited_head
        if self.finds_bandwidth and not 0 < config.min_band_cut < self.num_bands:
            raise ValueError(f"min_band_cut must be in [1, {self.num_bands - 1}]; got {config.min_band_cut}")
        # The band whose presence makes a recording full-band: the one ending at `full_band_hz`.
        self.full_band_index = round(config.full_band_hz / band_hz) - 1
        if config.band_limited_head and not 0 <= self.full_band_index < self.num_bands:
            raise ValueError(f"full_band_hz must be within the bands used; got {config.full_band_hz}")
        # Bands up to 1 kHz always count as present: every speech recording has them.
        self.always_present_bands = max(1, round(1000 / band_hz))
        self.stats_per_band = 2 + config.flatness_change + config.level_flatness
        num_stats = self.stats_per_band * self.num_bands
        # The first member keeps the name it had before ensembles, so earlier checkpoints still load.
        self.classifier = self._classifier(num_stats)
        self.more_members = nn.ModuleList(self._classifier(num_stats) for _ in range(config.members - 1))
        self.band_limited = self._classifier(num_stats, masked=True) if config.band_limited_head else None

    def _classifier(self, num_stats: int, masked: bool | None = None) -> nn.Sequential:
        config = self.config
        assert isinstance(config, FlatStats.Config)
        masked = config.mask_absent_bands if masked is None else masked
        # Batch norm on the statistics plays the part of feature standardisation.
        # With band masking, the presence flags of the bands follow the statistics into the first layer.
        num_inputs = num_stats + self.num_bands * (masked and config.band_flags)
        layers: list[nn.Module] = [nn.BatchNorm1d(num_stats), nn.Dropout(config.dropout)]
        if config.hidden:
            layers += [nn.Linear(num_inputs, config.hidden), nn.ReLU(), nn.Dropout(config.dropout),
                       nn.Linear(config.hidden, 2)]
        else:
            layers.append(nn.Linear(num_inputs, 2))
        return nn.Sequential(*layers)

    def statistics(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The per-band statistics the classifiers read, `(batch, statistics)`."""
        return self._analyse(waveform, lengths)[0]

    def _analyse(
        self, waveform: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Statistics `(batch, statistics)` and, with band masking, which bands are present `(batch, bands)`.

        With `lengths`, each row counts only the frames the centred, zero-padded STFT gives for its own
        length: those frames see exactly the samples (and zeros) they would see in the row scored alone.
        """
        flatness, band_log_power, energy_db, power = self.frontend.analyse(waveform)
        flatness, band_log_power = flatness[:, : self.num_bands], band_log_power[:, : self.num_bands]
        frames = energy_db.shape[-1]
        num_frames: int | torch.Tensor = frames
        if lengths is None:  # (the graph exported to ONNX takes this branch)
            speech = energy_db > energy_db.amax(dim=1, keepdim=True) - self.config.speech_range_db
        else:
            num_frames = (1 + lengths.to(energy_db.device) // self.config.hop_length).clamp(max=frames)[:, None]
            valid = torch.arange(frames, device=energy_db.device) < num_frames
            loudest = energy_db.masked_fill(~valid, -torch.inf).amax(dim=1, keepdim=True)
            speech = valid & (energy_db > loudest - self.config.speech_range_db)
        mean, std = masked_mean_std(flatness, speech)
        stats = [mean, std]
        if self.config.flatness_change:
            change = (flatness[..., 1:] - flatness[..., :-1]).abs()
            stats.append(masked_mean_std(change, speech[:, 1:] & speech[:, :-1])[0])
        if self.config.level_flatness:
            stats.append(temporal_log_flatness(band_log_power, speech))
        present = self._present_bands(power, speech, num_frames) if self.finds_bandwidth else None
        return torch.cat(stats, dim=1), present

    def _present_bands(
        self, power: torch.Tensor, speech: torch.Tensor, num_frames: int | torch.Tensor
    ) -> torch.Tensor:
        """`(batch, bands)` True for the bands below the recording's bandwidth (see Config)."""
        config = self.config
        # Frames whose window reaches past the ends of the audio (the STFT pads with zeros) splash the
        # step at the edge across every bin: they would hide a low-pass, so they are left out.
        edge = math.ceil(self.frontend.win_length / 2 / config.hop_length)
        frame = torch.arange(power.shape[-1], device=power.device)
        inside = (frame >= edge) & (frame < num_frames - edge)  # with lengths, each row's own end
        weight = (speech & inside).to(power.dtype).unsqueeze(1)
        mean_power = (power * weight).sum(dim=2) / weight.sum(dim=2).clamp(min=1.0)  # (batch, bins)
        level_db = 10 * torch.log10(mean_power + 1e-30)
        level_db = level_db - level_db.amax(dim=1, keepdim=True)
        in_band = self.frontend.pool[: self.num_bands] > 0  # (bands, bins)
        weakest_bin_db = level_db.unsqueeze(1).masked_fill(~in_band, torch.inf).amin(dim=2)  # (batch, bands)
        band = torch.arange(self.num_bands, device=power.device)
        missing = (weakest_bin_db < -config.absent_band_db) & (band >= self.always_present_bands)
        if self.training and config.band_cut_p > 0:
            cut = torch.randint(config.min_band_cut, self.num_bands, (power.shape[0], 1), device=power.device)
            cut_here = torch.rand(power.shape[0], 1, device=power.device) < config.band_cut_p
            missing = missing | (cut_here & (band >= cut))
        # Everything above the first missing band is missing too: the bandwidth ends there.
        return torch.cumsum(missing.to(torch.int32), dim=1) == 0

    def _classify(self, member: nn.Sequential, features: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
        if present is None:
            return member(features)
        # After standardisation (the member's batch norm) zero is the training mean: an absent band's
        # statistics become exactly that.
        standardised = member[0](features) * present.repeat(1, self.stats_per_band).to(features.dtype)
        if self.config.band_flags:
            standardised = torch.cat([standardised, present.to(features.dtype)], dim=1)
        return member[1:](standardised)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        features, present = self._analyse(waveform, lengths)
        masks = present if self.config.mask_absent_bands else None
        members = [self._classify(member, features, masks) for member in (self.classifier, *self.more_members)]
        if self.band_limited is not None:
            assert present is not None
            band_limited = self._classify(self.band_limited, features, present)
            if self.training:  # every classifier learns from every clip (see models/base.py)
                return torch.stack([*members, band_limited], dim=-1)
            full_band = present[:, self.full_band_index].unsqueeze(1)
            return torch.where(full_band, torch.stack(members, dim=-1).mean(dim=-1), band_limited)
        if len(members) == 1:
            return members[0]
        logits = torch.stack(members, dim=-1)
        return logits if self.training else logits.mean(dim=-1)
