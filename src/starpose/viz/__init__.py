"""Plots and skeleton animations (matplotlib on the Agg canvas; never opens a window)."""
from __future__ import annotations

from starpose.viz.animation import VideoInfo, read_video_info, render_animation
from starpose.viz.plots import plot_per_joint_error, plot_training_curves, plot_trajectories

__all__ = [
    "VideoInfo",
    "plot_per_joint_error",
    "plot_training_curves",
    "plot_trajectories",
    "read_video_info",
    "render_animation",
]
