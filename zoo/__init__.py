"""PoseZoo."""
