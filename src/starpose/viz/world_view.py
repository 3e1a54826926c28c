"""World motion drawn: the figure on its floor, the root's path, and where the feet rested.

World coordinates (y up, the floor at y = 0, z towards the camera) are shown in matplotlib's
z-up 3D axes by the rotation (x, y, z) -> (x, -z, y). :func:`add_world_panel` adds an animated
panel to a figure (the current pose, the whole path in grey, the path so far in black, the
ankles' contact spots); :func:`plot_world` draws a still picture of a clip: the floor grid, the
path and a pose every so many frames, later ones darker.
"""
from __future__ import annotations

import numpy as np

FLOOR_STEP = 0.5  # metres between floor grid lines (the caption says so)


def to_display(points: np.ndarray) -> np.ndarray:
    """World (y up) -> matplotlib 3D (z up): (x, y, z) -> (x, -z, y)."""
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def _box(disp: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (3,) and half side of a cube holding every point, from the floor up."""
    lo, hi = disp.reshape(-1, 3).min(0), disp.reshape(-1, 3).max(0)
    lo[2] = min(lo[2], 0.0)
    half = float(max(hi - lo)) / 2 * 1.05 + 0.1
    return (lo + hi) / 2, half


def _floor(ax, centre: np.ndarray, half: float) -> None:
    start = np.floor((centre[:2] - half) / FLOOR_STEP) * FLOOR_STEP
    ticks = [np.arange(start[k], centre[k] + half + 1e-9, FLOOR_STEP) for k in range(2)]
    for x in ticks[0]:
        ax.plot([x, x], [ticks[1][0], ticks[1][-1]], [0, 0], color="0.7", lw=0.6)
    for y in ticks[1]:
        ax.plot([ticks[0][0], ticks[0][-1]], [y, y], [0, 0], color="0.7", lw=0.6)


def _axes(ax, centre, half, azimuth, elevation) -> None:
    ax.view_init(elev=elevation, azim=azimuth)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(max(centre[2] - half, -0.05), max(centre[2] - half, -0.05) + 2 * half)
    ax.set_box_aspect((1, 1, 1), zoom=1.2)
    ax.grid(False)  # the floor grid (metres) is drawn instead
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.set_visible(False)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
    ax.tick_params(length=0)


def add_world_panel(fig, num_panels: int, column: int, joints_world: np.ndarray, contacts,
                    bones, colors, azimuth: float = -60.0, elevation: float = 20.0):
    """An animated world panel; returns ``update(i)`` that moves it to frame ``i``."""
    ax = fig.add_subplot(1, num_panels, column, projection="3d")
    ax.set_title("World (floor y = 0)", fontsize=10)
    disp = to_display(np.asarray(joints_world, np.float64))
    centre, half = _box(disp)
    _axes(ax, centre, half, azimuth, elevation)
    _floor(ax, centre, half)
    root = disp[:, 0]
    ax.plot(root[:, 0], root[:, 1], 0 * root[:, 2], color="0.7", lw=1)
    done = ax.plot([], [], [], color="k", lw=1.5)[0]
    if contacts is not None:
        for foot, joint in enumerate((3, 6)):
            spots = disp[np.asarray(contacts)[:, foot], joint]
            ax.plot(spots[:, 0], spots[:, 1], 0 * spots[:, 2], ".", color="tab:green", ms=2)
    lines = [ax.plot([0, 0], [0, 0], [0, 0], color=c, lw=2)[0] for c in colors]

    def update(i):
        pose = disp[i]
        for line, (p, c) in zip(lines, bones):
            line.set_data_3d(pose[[p, c], 0], pose[[p, c], 1], pose[[p, c], 2])
        done.set_data_3d(root[:i + 1, 0], root[:i + 1, 1], 0 * root[:i + 1, 2])

    return update


def plot_world(joints_world: np.ndarray, contacts, out_path, *, bones, colors, every: int = 10,
               title: str = "", azimuth: float = -60.0, elevation: float = 25.0, size=(6, 5)):
    """A still of the clip: floor, root path (on the floor), contact spots and a pose every
    ``every`` frames (the last one darkest). Written atomically to ``out_path`` (``.png``)."""
    from starpose.viz.plots import atomic_output, new_figure

    disp = to_display(np.asarray(joints_world, np.float64))
    fig = new_figure(*size, dpi=100)
    ax = fig.add_subplot(1, 1, 1, projection="3d")
    centre, half = _box(disp)
    _axes(ax, centre, half, azimuth, elevation)
    _floor(ax, centre, half)
    root = disp[:, 0]
    ax.plot(root[:, 0], root[:, 1], 0 * root[:, 2], color="k", lw=1.5, label="root path")
    if contacts is not None:
        for foot, joint in enumerate((3, 6)):
            spots = disp[np.asarray(contacts)[:, foot], joint]
            ax.plot(spots[:, 0], spots[:, 1], 0 * spots[:, 2], ".", color="tab:green", ms=3,
                    label="foot contact" if foot == 0 else None)
    shown = list(range(0, len(disp), max(int(every), 1)))
    for k, t in enumerate(shown):
        alpha = 0.25 + 0.75 * (k + 1) / len(shown)
        for (p, c), colour in zip(bones, colors):
            ax.plot(*disp[t, [p, c]].T, color=colour, lw=1.5, alpha=alpha)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title((title + "\n" if title else "") + f"floor grid {FLOOR_STEP:g} m", fontsize=10)
    with atomic_output(out_path) as tmp:
        fig.savefig(tmp, format="png")
    return out_path
