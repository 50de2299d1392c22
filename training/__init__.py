"""Training: datasets, augmentation, losses, metrics, the training loop."""
