"""Checkpoints: starpose's own format and the published MixSTE / Star-Attention layout.

starpose checkpoints are ``torch.save``d dicts::

    {"format": "starpose", "version": 1, "config": {...MixSTEConfig...}, "model": state_dict, ...}

so that :func:`load_model` needs nothing but the path (the config leaves out
``attention_kernel``: which kernel computes attention is chosen at load time). Training adds
``optimizer``, ``epoch``, ``lr`` and ``train_state`` entries.

Published checkpoints hold ``model_pos`` (a state_dict in the published parameter names, usually
with the ``module.`` prefix of ``nn.DataParallel``) beside ``epoch``, ``lr``, ``optimizer`` and
``random_state`` (a pickled ``numpy.random.RandomState``). The hyperparameters are inferred from
the tensors. The two naming layouts are mapped into each other in :data:`PUBLISHED_NAMES` only.

starpose checkpoints carry a SHA-256 of their payload (:mod:`starpose.models.integrity`),
verified on every read. Every file is read with ``torch.load(weights_only=True)``: no arbitrary object is unpickled. The
numpy types that a RandomState needs are the only globals allowed beyond tensors and containers.
"""
from __future__ import annotations

import io
import os
import pickle
import re
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from starpose.errors import CheckpointError, OptionError, StarposeWarning
from starpose.io import atomic_path
from starpose.models.bundled import is_bundled, verified_weights
from starpose.models.integrity import checksum_problem, with_checksum
from starpose.models.mixste import MixSTE, MixSTEConfig

FORMAT_NAME = "starpose"
FORMAT_VERSION = 1
#: Extra entry of a published-layout export holding starpose's model configuration (the published
#: loader ignores extra keys; the layout itself cannot hold the vanilla head count).
CONFIG_ENTRY = "starpose_config"

#: (published prefix, starpose prefix): the one place where the two layouts meet.
PUBLISHED_NAMES = (
    ("Spatial_patch_to_embedding.", "joint_embed."),
    ("Spatial_pos_embed", "spatial_pos_embed"),
    ("Temporal_pos_embed", "temporal_pos_embed"),
    ("STEblocks.", "spatial_blocks."),
    ("TTEblocks.", "temporal_blocks."),
    ("Spatial_norm.", "spatial_norm."),
    ("Temporal_norm.", "temporal_norm."),
    ("head.0.", "head_norm."),
    ("head.1.", "head."),
)
_PUBLISHED_WA, _OUR_WA = ".attn.Wa", ".attn.wa"


def published_to_starpose(state: dict) -> dict:
    """Rename a published-layout state_dict (with or without ``module.``) to starpose names."""
    return {_rename(_strip_module(key), 0, 1): value for key, value in state.items()}


def starpose_to_published(state: dict, module_prefix: bool = True) -> dict:
    """Rename a starpose state_dict to the published layout (``module.`` prefix by default,
    which the published code expects since it wraps the model in ``nn.DataParallel``)."""
    prefix = "module." if module_prefix else ""
    return {prefix + _rename(key, 1, 0): value for key, value in state.items()}


def _strip_module(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def _rename(key: str, src: int, dst: int) -> str:
    for pair in PUBLISHED_NAMES:
        if key.startswith(pair[src]):
            key = pair[dst] + key[len(pair[src]):]
            break
    wa = (_PUBLISHED_WA, _OUR_WA)
    if key.endswith(wa[src]):
        key = key[: -len(wa[src])] + wa[dst]
    return key


def infer_config(state: dict, num_heads: int | None = None) -> MixSTEConfig:
    """MixSTE hyperparameters from a starpose-named state_dict.

    Frames, joints, channels, dim, depth, mlp_ratio, qkv bias and the attention type are read off
    the tensor shapes. Star-Attention's ``wa`` ``(N, head_dim)`` also gives the number of heads;
    vanilla weights do not carry it, so it is ``num_heads`` (8 unless given).
    """
    dim, in_chans = state["joint_embed.weight"].shape
    blocks = [int(m.group(1)) for k in state if (m := re.match(r"spatial_blocks\.(\d+)\.", k))]
    if not blocks:
        raise KeyError("no spatial block weights (STEblocks.* / spatial_blocks.*)")
    depth = 1 + max(blocks)
    hidden = state["spatial_blocks.0.mlp.fc1.weight"].shape[0]
    star = "spatial_blocks.0.attn.wa" in state
    heads = num_heads or 8
    if star:
        inferred = dim // state["spatial_blocks.0.attn.wa"].shape[1]
        if num_heads is not None and num_heads != inferred:
            raise ValueError(f"num_heads={num_heads} does not fit the Star-Attention weights ({inferred} heads)")
        heads = inferred
    return MixSTEConfig(
        num_frames=state["temporal_pos_embed"].shape[1],
        num_joints=state["spatial_pos_embed"].shape[1],
        in_chans=in_chans,
        dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=hidden / dim,
        qkv_bias="spatial_blocks.0.attn.qkv.bias" in state,
        attention="star" if star else "vanilla",
    )


def _numpy_globals() -> list:
    """The numpy objects a pickled ``RandomState`` refers to, under today's and numpy 1.x's names."""
    from numpy.random import _pickle as np_random_pickle
    from numpy.random import _mt19937

    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    allowed = [
        np.ndarray,
        np.dtype,
        reconstruct,
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        np_random_pickle.__randomstate_ctor,
        np.random.RandomState,
        _mt19937.MT19937,
        type(np.dtype(np.uint32)),
    ]
    if hasattr(np_random_pickle, "__bit_generator_ctor"):
        allowed.append(np_random_pickle.__bit_generator_ctor)
    scalar = np.float64(0).__reduce__()[0]
    allowed += [scalar, (scalar, "numpy.core.multiarray.scalar")]
    return allowed


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Safely read a checkpoint file into a dict; clear :class:`CheckpointError` on any problem.

    ``"bundled"`` reads the model shipped with starpose, checked against its manifest."""
    path = verified_weights() if is_bundled(path) else Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    _refuse_other_kinds(path)
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickling_reason(err)
        if "GLOBAL" in reason or "allowlisted" in reason:
            raise CheckpointError(f"{path}: refused to load unsafe content ({reason})") from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
    except MemoryError:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (declares more data than fits in memory)") from None
    except Exception as err:  # noqa: BLE001 - any failure to parse these bytes means an unreadable file
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or another kind of file: {_first_line(err)})"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict of weights, found {type(data).__name__}")
    problem = checksum_problem(data)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    return data


class OnnxGivenError(CheckpointError, OptionError):
    """An ONNX export given where a PyTorch checkpoint is read (the message names the option that
    takes it)."""


def _refuse_other_kinds(path: Path) -> None:
    """An ONNX export, a text file, a NumPy array... named as such (:mod:`starpose.models.file_kind`)."""
    from starpose.models.file_kind import describe_file, is_onnx

    kind = describe_file(path)
    if kind is None:
        return
    if is_onnx(path):
        raise OnnxGivenError(f"{path}: is an ONNX model, not a PyTorch checkpoint (lifting runs "
                             f"it with <runtime> onnx <model> {path})")
    raise CheckpointError(f"{path}: not a readable PyTorch checkpoint: it is {kind}")


def _unpickling_reason(err: Exception) -> str:
    """The informative line of torch's weights_only error (it names the refused global)."""
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.replace("WeightsUnpickler error:", "").strip() for line in str(err).splitlines()]
    lines = [line for line in lines if line and not line.startswith(boilerplate)]
    return lines[0] if lines else "unsafe content"


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def checkpoint_state(data: dict, path: str | os.PathLike) -> tuple[dict, MixSTEConfig | None]:
    """The starpose-named state_dict of a checkpoint dict and its stored config (None if absent)."""
    if data.get("format") == FORMAT_NAME:
        return _starpose_entries(data, path)
    for key in ("model_pos", "model", "state_dict"):
        if isinstance(data.get(key), dict):
            return published_to_starpose(data[key]), _stored_config(data, path)
    if data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return published_to_starpose(data), None
    raise CheckpointError(f"{path}: no model weights found (expected a 'model_pos' or starpose 'model' entry)")


def _stored_config(data: dict, path) -> MixSTEConfig | None:
    """The configuration a starpose export stored beside published-layout weights, if any."""
    config = data.get(CONFIG_ENTRY)
    if config is None:
        return None
    try:
        return MixSTEConfig(**config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: malformed {CONFIG_ENTRY} entry ({err})") from None


def _starpose_entries(data: dict, path: str | os.PathLike) -> tuple[dict, MixSTEConfig]:
    model, config = data.get("model"), data.get("config")
    if not isinstance(model, dict) or not isinstance(config, dict):
        raise CheckpointError(f"{path}: malformed starpose checkpoint (needs 'model' and 'config' dicts)")
    try:
        return model, MixSTEConfig(**config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: malformed starpose checkpoint config ({err})") from None


def load_model(
    path: str | os.PathLike,
    num_heads: int | None = None,
    device: str | torch.device = "cpu",
    attention_kernel: str = "auto",
) -> MixSTE:
    """Load a starpose or published MixSTE checkpoint; the model is returned in eval mode.

    ``path`` = ``"bundled"``: the model shipped with starpose (:mod:`starpose.models.bundled`).

    For published checkpoints the hyperparameters are inferred from the weights; ``num_heads`` is
    8 unless given (Star-Attention weights determine it). ``attention_kernel``: see
    :class:`MixSTEConfig` (how attention is computed; files do not store it).
    """
    if is_bundled(path):
        path = verified_weights()
    return model_from_checkpoint(read_checkpoint(path), path, num_heads, device, attention_kernel)


def model_from_checkpoint(
    data: dict,
    path: str | os.PathLike,
    num_heads: int | None = None,
    device: str | torch.device = "cpu",
    attention_kernel: str = "auto",
) -> MixSTE:
    """:func:`load_model` on a checkpoint dict already read from ``path`` (named in errors)."""
    state, config = checkpoint_state(data, path)
    _check_heads(path, config, state, num_heads)
    try:
        config = config or infer_config(state, num_heads)
    except (KeyError, ValueError, IndexError) as err:
        raise CheckpointError(f"{path}: cannot infer the MixSTE configuration from the weights ({err})") from None
    if config.dim % config.num_heads:
        raise CheckpointError(f"{path}: {config.num_heads} heads do not divide the model width {config.dim}")
    if num_heads is None and config.attention == "vanilla" and _is_published_without_config(data):
        warnings.warn(f"{path}: a published vanilla checkpoint does not store its head count; "
                      "assuming 8 heads (give the number of heads if it was trained with another)",
                      StarposeWarning, stacklevel=2)
    model = MixSTE.from_config(replace(config, attention_kernel=attention_kernel))
    load_weights(model, state, path)
    return model.to(device).eval()


def _check_heads(path, stored: MixSTEConfig | None, state: dict, num_heads: int | None) -> None:
    """A head count given for a checkpoint that records its own (a stored configuration, or
    Star-Attention weights, whose shape gives it) must agree with it: never silently ignored."""
    if num_heads is None:
        return
    recorded = stored.num_heads if stored is not None else None
    if recorded is None and "spatial_blocks.0.attn.wa" in state and "joint_embed.weight" in state:
        recorded = state["joint_embed.weight"].shape[0] // state["spatial_blocks.0.attn.wa"].shape[1]
    if recorded is not None and recorded != num_heads:
        raise OptionError(f"{path}: the checkpoint records {recorded} attention heads; <num-heads> "
                          f"{num_heads} contradicts it (leave it out: it is for published vanilla "
                          "checkpoints, which do not record theirs)")


def _is_published_without_config(data: dict) -> bool:
    return data.get("format") != FORMAT_NAME and CONFIG_ENTRY not in data


def load_weights(model: MixSTE, state: dict, path: str | os.PathLike) -> None:
    """``load_state_dict`` with one clear error listing missing, unexpected or misshapen tensors."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = [_key_text(k) for k in sorted(set(state) - set(own), key=str)]  # a corrupt file's keys
    not_tensors = [k for k in own if k in state and not isinstance(state[k], torch.Tensor)]
    misshapen = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own if k in state and k not in not_tensors and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = [
        (label, items) for label, items in
        (("missing", missing), ("unexpected", unexpected), ("not a tensor", not_tensors),
         ("wrong shape", misshapen)) if items
    ]
    if problems:
        text = "; ".join(f"{label}: {', '.join(items[:4])}{' ...' if len(items) > 4 else ''}" for label, items in problems)
        raise CheckpointError(f"{path}: weights do not fit the model ({text})")
    model.load_state_dict(state)


def _key_text(key) -> str:
    """A weight name from a file, for a one-line message: printable, at most 60 characters."""
    text = key if isinstance(key, str) and key.isprintable() else repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


def save_checkpoint(path: str | os.PathLike, model: MixSTE, **extra) -> Path:
    """Write a starpose checkpoint atomically: a crash never leaves a half-written file."""
    model = getattr(model, "module", model)  # DistributedDataParallel / DataParallel wrappers
    config = config_dict(model)
    payload = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": config,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **extra,
    }
    return atomic_torch_save(with_checksum(payload), path)


def config_dict(model: MixSTE) -> dict:
    config = asdict(model.config)
    del config["attention_kernel"]  # how attention is computed is the loader's choice
    return config


def atomic_torch_save(payload: dict, path: str | os.PathLike) -> Path:
    """Serialise in memory, then write, fsync and rename (:func:`starpose.io.atomic_path`).

    torch's own file writer reports a full disk as a bare RuntimeError; Python's ``write``
    raises OSError with the errno that :func:`starpose.io.write_error` turns into one line.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(buffer.getbuffer())
    return Path(path)


def export_checkpoint(src: str | os.PathLike, layout: str, out: str | os.PathLike, num_heads: int | None = None,
                      module_prefix: bool = True) -> Path:
    """Convert a checkpoint to the ``mixste`` (published) or the ``starpose`` layout."""
    out = Path(out)
    if out.is_dir():
        raise CheckpointError(f"{out}: is a folder; give the output file name")
    if not out.parent.is_dir():
        raise CheckpointError(f"{out.parent}: output folder does not exist")
    data = read_checkpoint(src)  # once: checkpoints of the 243-frame models are 130 MB or more
    model = model_from_checkpoint(data, src, num_heads=num_heads)
    if layout == "starpose":
        return save_checkpoint(out, model, epoch=data.get("epoch", 0))
    payload = {
        "epoch": data.get("epoch", 0),
        "lr": data.get("lr", 0.0),
        "model_pos": starpose_to_published(model.state_dict(), module_prefix=module_prefix),
        CONFIG_ENTRY: config_dict(model),
    }
    return atomic_torch_save(payload, out)


__all__ = [
    "load_model", "model_from_checkpoint", "save_checkpoint", "read_checkpoint", "infer_config", "export_checkpoint",
    "published_to_starpose", "starpose_to_published", "PUBLISHED_NAMES",
]
