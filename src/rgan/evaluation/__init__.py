"""Evaluation: TimeGAN-protocol scores, distribution distances, a memorization check and plots."""

# Windows of real training data that scores fitted on them use at most: the real-data forecaster, the memorization
# index, context-FID's encoder (evaluate's, and the train stage's validation).
MAX_TRAIN_WINDOWS = 20000
