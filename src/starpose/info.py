"""``starpose info``: versions, the compute device and the model presets."""
from __future__ import annotations

import platform


def describe_device() -> str:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return f"cuda ({torch.cuda.device_count()} x {name})"
    return f"cpu ({torch.get_num_threads()} threads)"


def describe_cpu() -> str:
    """The CPU model and its bf16 support (:mod:`starpose.inference.cpu_features`)."""
    from starpose.bench.report import cpu_model
    from starpose.inference.cpu_features import bf16_support

    return f"{cpu_model()}; {bf16_support().describe()}"


def info_lines() -> list[str]:
    import torch

    from starpose import __version__
    from starpose.models import PRESETS, build_model, count_parameters
    from starpose.models.kernels import fused_cpu, resolve_kernel

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    lines = [
        f"starpose {__version__}",
        f"python   {platform.python_version()}",
        f"torch    {torch.__version__}",
        f"device   {describe_device()}",
        f"cpu      {describe_cpu()}",
        f"kernels  CPU attention and LayerNorm: {fused_cpu.describe()}",
        "",
    ]
    width = max(map(len, PRESETS))  # the longest name, e.g. star-mixste-43-humaneva
    lines.append(f"{'preset':<{width}} {'attention':<9} {'frames':>6} {'dim':>4} {'depth':>5} {'heads':>5} "
                 f"{'parameters':>12}  attention kernel (joints / frames)")
    for name, preset in PRESETS.items():
        cfg = preset.model
        params = count_parameters(build_model(name))
        kernels = [resolve_kernel(cfg.attention_kernel, device, torch.float32, n)
                   + ("*" if device.type == "cpu" and fused_cpu.covers_shape(cfg.dim // cfg.num_heads, n) else "")
                   for n in (cfg.num_joints, cfg.num_frames)]
        lines.append(
            f"{name:<{width}} {cfg.attention:<9} {cfg.num_frames:>6} {cfg.dim:>4} {cfg.depth:>5} "
            f"{cfg.num_heads:>5} {params:>12,}  {' / '.join(kernels)}"
        )
    lines.append(f"(attention kernel: the one chosen automatically on {device.type} in fp32 without dropout"
                 + ("; *: run by the compiled kernel here)" if device.type == "cpu" and fused_cpu.available() else ")"))
    return lines + ["", bundled_line()]


def bundled_line() -> str:
    """What ``lift`` uses without ``--checkpoint`` (or why it cannot)."""
    from starpose.errors import CheckpointError
    from starpose.models import bundled

    try:
        bundled.verified_weights()
        size = bundled.weights_path().stat().st_size / 1e6
        return f"{bundled.describe()}\n  {bundled.weights_path()} ({size:.1f} MB, checksum verified)"
    except CheckpointError as err:
        return f"bundled model: unavailable ({err})"
