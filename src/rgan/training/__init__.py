"""Adversarial training: losses, checkpoints and the training loop."""
