"""Evaluation: TimeGAN-protocol scores, distribution distances, a memorization check and plots."""
