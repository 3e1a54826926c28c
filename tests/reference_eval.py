"""A literal transcription of the published evaluation counting, for equivalence tests.

Per action group: every (subject, take, camera) sequence is cut into windows (consecutive, the
last aligned to the end, short sequences edge-padded), the flipped input runs as a second forward
pass, and each metric is accumulated as ``metric * W * F`` then divided by the summed ``W * F``.
The reported number is the plain mean over actions. ``action_filter`` keeps the actions whose
name starts with one of its words, as the published loader's filter does (HumanEva-I's
``-a Walk,Jog,Box``); ``skeleton`` gives the left/right joints of the flip.
"""
import numpy as np
import torch

from starpose.data.skeleton import H36M_17


def _windows(x, f):
    t = x.shape[0]
    n = t // f + (1 if t % f else 0)
    if t < f:
        x = torch.cat([x, x[-1:].expand(f - t, *x.shape[1:])])
    out = torch.empty(n, f, *x.shape[1:])
    for i in range(n - 1):
        out[i] = x[i * f:(i + 1) * f]
    out[-1] = x[-f:]
    return out


def _p_mpjpe(pred, target):
    mu_x, mu_y = target.mean(1, keepdims=True), pred.mean(1, keepdims=True)
    x0, y0 = target - mu_x, pred - mu_y
    nx = np.sqrt((x0**2).sum((1, 2), keepdims=True))
    ny = np.sqrt((y0**2).sum((1, 2), keepdims=True))
    x0, y0 = x0 / nx, y0 / ny
    u, s, vt = np.linalg.svd(np.matmul(x0.transpose(0, 2, 1), y0))
    v = vt.transpose(0, 2, 1)
    r = np.matmul(v, u.transpose(0, 2, 1))
    sign = np.sign(np.expand_dims(np.linalg.det(r), 1))
    v[:, :, -1] *= sign
    s[:, -1] *= sign.flatten()
    r = np.matmul(v, u.transpose(0, 2, 1))
    a = np.expand_dims(s.sum(1, keepdims=True), 2) * nx / ny
    t = mu_x - a * np.matmul(mu_y, r)
    aligned = a * np.matmul(pred, r) + t
    return np.linalg.norm(aligned - target, axis=-1).mean()


def published_evaluation(model, sequences, skeleton=H36M_17, action_filter=None):
    """Action-wise average of (MPJPE, P-MPJPE, N-MPJPE, MPJVE) in mm, counted as published."""
    left, right = list(skeleton.joints_left), list(skeleton.joints_right)
    f = model.config.num_frames
    groups = {}
    for s in sequences:
        if action_filter is not None:
            found = False
            for a in action_filter:
                if s.action.startswith(a):
                    found = True
                    break
            if not found:
                continue
        groups.setdefault(s.action.split(" ")[0], []).append(s)
    per_action = []
    with torch.no_grad():
        for action in groups:
            sums, n = np.zeros(4), 0
            for s in groups[action]:
                x = torch.from_numpy(s.keypoints_2d)
                xf = x.clone()
                xf[..., 0] *= -1
                xf[:, left + right] = xf[:, right + left]
                x, y = _windows(x, f), _windows(torch.from_numpy(s.positions_3d), f)
                xf = _windows(xf, f)
                y[:, :, 0] = 0
                p = model(x)
                pf = model(xf)
                pf[..., 0] *= -1
                pf[:, :, left + right] = pf[:, :, right + left]
                p = (p + pf) / 2
                e1 = torch.norm(p - y, dim=-1).mean().item()
                scale = (y * p).sum(-1, keepdim=True).mean(2, keepdim=True) / (p**2).sum(-1, keepdim=True).mean(2, keepdim=True)
                e3 = torch.norm(scale * p - y, dim=-1).mean().item()
                j = p.shape[-2]
                pn, yn = p.numpy().reshape(-1, j, 3), y.numpy().reshape(-1, j, 3)
                e2 = _p_mpjpe(pn, yn)
                ev = np.linalg.norm(np.diff(pn, axis=0) - np.diff(yn, axis=0), axis=-1).mean()
                w = y.shape[0] * y.shape[1]
                sums += w * np.array([e1, e2, e3, ev])
                n += w
            per_action.append(1000 * sums / n)
    return np.mean(per_action, axis=0)
