"""Building blocks shared by several detector architectures (no models are registered here)."""
