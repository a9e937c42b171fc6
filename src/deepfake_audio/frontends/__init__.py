"""Pretrained front ends: encoders whose weights come from installed packages or files the user gives.

Nothing here downloads anything. Each front end reads its weights from a local source and verifies them.
"""
