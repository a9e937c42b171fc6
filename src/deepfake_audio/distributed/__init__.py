"""Scoring beyond one machine. `score_with_ray` (needs the `ray` extra) runs batch scoring on Ray Data."""

from deepfake_audio.distributed.ray_scoring import read_paths, score_with_ray

__all__ = ["read_paths", "score_with_ray"]
