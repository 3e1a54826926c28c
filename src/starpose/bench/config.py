"""The model sizes the benchmarks time: one description shared by the training and the
inference rows of ``starpose bench``, each taken from a model preset (:meth:`ModelSize.of_preset`)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset
from starpose.train.recipes import preset_recipe


@dataclass(frozen=True)
class ModelSize:
    """A MixSTE size and the batch (windows per forward) it is timed at."""

    name: str
    frames: int
    dim: int
    depth: int
    heads: int
    joints: int
    batch: int

    @classmethod
    def of_preset(cls, name: str, preset: str, batch: int | None = None, model: dict | None = None,
                  **timing) -> "ModelSize":
        """The size of model ``preset``, with ``model``'s :class:`~starpose.models.config.MixSTEConfig`
        fields changed, at ``batch`` windows (default: the preset's recipe's batch size)."""
        config = replace(get_preset(preset).model, **(model or {}))
        return cls(name, config.num_frames, config.dim, config.depth, config.num_heads, config.num_joints,
                   batch=batch or preset_recipe(preset).train["batch_size"], **timing)

    def model(self, attention: str, kernel: str = "auto") -> MixSTE:
        return MixSTE(num_frames=self.frames, dim=self.dim, depth=self.depth, num_heads=self.heads,
                      num_joints=self.joints, attention=attention, attention_kernel=kernel)

    def describe_model(self) -> str:
        return f"{self.frames} frames, dim {self.dim}, depth {self.depth}, {self.heads} heads"

    def describe(self) -> str:
        return f"{self.name}: {self.describe_model()}, batch {self.batch} windows"


@dataclass(frozen=True)
class BenchConfig(ModelSize):
    """A size for the training rows: warm-up steps and timed repetitions."""

    warmup: int = 2
    reps: int = 5


@dataclass(frozen=True)
class InferConfig(ModelSize):
    """A size for the inference rows: interleaved rounds; its model is in eval mode."""

    rounds: int = 5

    def model(self, attention: str, kernel: str = "auto") -> MixSTE:
        return super().model(attention, kernel).eval()


__all__ = ["ModelSize", "BenchConfig", "InferConfig"]
