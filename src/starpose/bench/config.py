"""The model sizes the benchmarks time: one description shared by the training and the
inference rows of ``starpose bench``."""
from __future__ import annotations

from dataclasses import dataclass

from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset


@dataclass(frozen=True)
class ModelSize:
    """A MixSTE size and the batch (windows per forward) it is timed at."""

    name: str
    frames: int
    dim: int
    depth: int
    heads: int
    batch: int

    def model(self, attention: str, kernel: str = "auto") -> MixSTE:
        return MixSTE(num_frames=self.frames, dim=self.dim, depth=self.depth, num_heads=self.heads,
                      attention=attention, attention_kernel=kernel)

    def describe_model(self) -> str:
        return f"{self.frames} frames, dim {self.dim}, depth {self.depth}, {self.heads} heads"

    def describe(self) -> str:
        return f"{self.name}: {self.describe_model()}, batch {self.batch} windows"


@dataclass(frozen=True)
class BenchConfig(ModelSize):
    """A size for the training rows: warm-up steps and timed repetitions."""

    warmup: int = 2
    reps: int = 5

    @classmethod
    def of_preset(cls, name: str, preset: str, **timing) -> "BenchConfig":
        """The size of model ``preset`` at its recipe's batch size."""
        model, recipe = get_preset(preset).model, get_preset(preset).recipe
        return cls(name, model.num_frames, model.dim, model.depth, model.num_heads,
                   batch=recipe.batch_size, **timing)


@dataclass(frozen=True)
class InferConfig(ModelSize):
    """A size for the inference rows: interleaved rounds; its model is in eval mode."""

    rounds: int = 5

    def model(self, attention: str, kernel: str = "auto") -> MixSTE:
        return super().model(attention, kernel).eval()


__all__ = ["ModelSize", "BenchConfig", "InferConfig"]
