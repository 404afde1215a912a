"""The memory and compute claims of a binary layer (Rastegari et al. 2016, XNOR-Net), from its
params and shapes: what the inspector shows for BinaryConv2d and BinaryDense.

- Memory: each binary weight is 1 bit instead of a 32-bit float (the paper's "32×"); the
  layer still keeps one float32 α per output (and a float32 bias if it has one), so the
  real saving of the layer is a little less than 32×.
- Compute: the real-valued twin does one multiply-add per weight per output position.
  XNOR mode turns each into a 1-bit product (XNOR) summed by popcount, 64 to a 64-bit
  instruction, plus one float multiplication by α·β per output value; the paper's
  estimated speedup is S = c·N_W·N_I / (c·N_W·N_I / 64 + N_I) (c input channels, N_W
  kernel area, N_I output positions; its Fig. 4 gives 58× for c = 256, 3×3 kernels).
  BWN mode keeps real inputs: each multiply-add becomes an addition or a subtraction
  (no multiplication), plus one multiplication by α per output value.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

BINARY_TYPES = ("BinaryConv2d", "BinaryDense")
WORD = 64  # bit products per XNOR + popcount instruction (a 64-bit word)


@dataclass(frozen=True)
class BinaryCosts:
    mode: str                 # "xnor" or "bwn"
    weights: int              # binary weights (1 bit each)
    outputs: int              # output channels (units): one float32 α each
    bias: bool                # a float32 bias per output
    fan_in: int               # c·N_W: weights per output value
    positions: int            # output positions per sample (N_I)

    @property
    def float32_bits(self) -> int:
        return 32 * (self.weights + (self.outputs if self.bias else 0))

    @property
    def binary_bits(self) -> int:
        return self.weights + 32 * self.outputs * (2 if self.bias else 1)

    @property
    def bits_per_weight(self) -> float:
        """Bits stored per weight, α and bias included."""
        return self.binary_bits / self.weights

    @property
    def saving(self) -> float:
        """float32 memory / binary memory of the whole layer (32 for the signs alone)."""
        return self.float32_bits / self.binary_bits

    @property
    def macs(self) -> int:
        """Multiply-adds per sample of the real-valued twin."""
        return self.weights * self.positions

    @property
    def scale_mults(self) -> int:
        """Float multiplications per sample by α (·β): one per output value."""
        return self.outputs * self.positions

    @property
    def words(self) -> int:
        """64-bit XNOR + popcount instructions per sample (XNOR mode)."""
        return -(-self.macs // WORD)

    @property
    def speedup(self) -> float | None:
        """The paper's estimated speedup over the twin's multiply-adds (XNOR mode only)."""
        if self.mode != "xnor":
            return None
        n = self.fan_in * self.positions
        return n / (n / WORD + self.positions)


def binary_costs(layer_type: str, params: dict, in_shapes, out_shape) -> BinaryCosts | None:
    """The costs of a BinaryConv2d or BinaryDense node (None for any other type or before
    its shapes are known). Shapes without the batch dimension, as the analysis gives them."""
    if layer_type not in BINARY_TYPES or not in_shapes or in_shapes[0] is None or out_shape is None:
        return None
    mode, bias = params.get("mode", "xnor"), bool(params.get("bias", True))
    if layer_type == "BinaryConv2d":
        k = int(params.get("kernel", 3))
        fan_in = int(in_shapes[0][0]) * k * k
        outputs, positions = int(out_shape[0]), prod(int(d) for d in out_shape[1:])
    else:
        fan_in = int(in_shapes[0][-1])
        outputs, positions = int(out_shape[-1]), prod(int(d) for d in out_shape[:-1])
    return BinaryCosts(mode, outputs * fan_in, outputs, bias, fan_in, positions)


def _human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.3g}"


def _bytes(bits: int) -> str:
    return _human(bits / 8) + "B"


def facts(costs: BinaryCosts) -> list[tuple[str, str]]:
    """(label, text) rows for the inspector."""
    c = costs
    extra = "α and bias" if c.bias else "α"
    rows = [("bits / weight", f"1 (the sign) instead of 32; {c.bits_per_weight:.3g} with the float32 {extra}"),
            ("weight memory", f"{_bytes(c.binary_bits)} binary vs {_bytes(c.float32_bits)} float32: 32× for the "
                              f"signs, {c.saving:.3g}× with the float32 {extra}")]
    if c.mode == "xnor":
        rows.append(("per sample", f"{_human(c.macs)} XNOR + popcount bit products ({_human(c.words)} 64-bit "
                                   f"words) and {_human(c.scale_mults)} float multiplies by α·β, vs "
                                   f"{_human(c.macs)} multiply-adds in float32"))
        rows.append(("speedup", f"{c.speedup:.3g}× (the paper's estimate: 64 bit products per instruction)"))
    else:
        rows.append(("per sample", f"{_human(c.macs)} additions or subtractions (no multiplies: weights are ±α) "
                                   f"and {_human(c.scale_mults)} multiplies by α, vs {_human(c.macs)} "
                                   f"multiply-adds in float32"))
    return rows
