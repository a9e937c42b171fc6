"""The stages a recording goes through in `Detector`, one module each, in order:

decode (`decode.py`: file or bytes to 16 kHz audio, trimmed or streamed) -> analyse (`analyse.py`:
windows and their warning measures) -> score windows (`scoring.py`: batches across files through the
model) -> decide (`decision.py`: aggregate and calibrate into a verdict) -> report (`report.py`: the
`Prediction` with its timeline and warnings). `deepfake_audio.detector.Detector` wires them together.
"""
