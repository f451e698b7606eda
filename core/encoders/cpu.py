"""What this CPU computes natively, read once: the one place that decides anything by CPU features.

Decisions that depend on the CPU take a `CpuFeatures` (default: `detect()`), so each outcome can be
tested for every kind of CPU on any machine: `native_bf16` picks bf16 for bulk work
(`core.encoders.base.native_low_precision`), `int8_dot` picks the int8 quantisation
(`core.encoders.onnx_tower.quantisation_for`). Speed itself is never inferred from features: the
image runtime of a build is chosen by timing the candidates on its first batch
(`core.encoders.runtimes`).

Features come from the kernel's list (`/proc/cpuinfo` flags on x86-64, `Features` on aarch64)
limited by what torch dispatches to: `ATEN_CPU_CAPABILITY=avx2` on an AVX-512 machine makes torch,
and so this module, treat it as an AVX2 one (ONNX Runtime has no such switch).
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction sets of one CPU that our choices depend on.

    Attributes:
        arch: `platform.machine()`: "x86_64", "aarch64"...
        flags: The kernel's feature names (lower case), e.g. "avx2", "avx512_bf16", "amx_tile".
        capability: What torch dispatches to ("AVX2", "AVX512", "DEFAULT"; "SVE256"... on ARM).
    """

    arch: str
    flags: frozenset[str]
    capability: str = "DEFAULT"

    @property
    def x86(self) -> bool:
        return self.arch in ("x86_64", "amd64", "AMD64")

    @property
    def avx512(self) -> bool:
        """AVX-512 present and used by torch (not lowered by ATEN_CPU_CAPABILITY)."""
        return "avx512f" in self.flags and self.capability == "AVX512"

    @property
    def amx(self) -> bool:
        return "amx_tile" in self.flags and self.avx512

    @property
    def native_bf16(self) -> bool:
        """bf16 matrix products in hardware: AVX512-BF16 or AMX on x86-64, BF16 on ARM (v8.6+)."""
        if self.x86:
            return self.avx512 and ("avx512_bf16" in self.flags or self.amx)
        return "bf16" in self.flags

    @property
    def int8_dot(self) -> bool:
        """int8 dot products that cannot saturate: VNNI (AVX512 or AVX) or AMX on x86-64, SDOT on ARM.
        Without them, u8 x s8 products are summed in pairs into int16 (AVX2 `vpmaddubsw`), which
        saturates when weights use the full int8 range. ONNX Runtime reads the CPU itself, so torch's
        dispatch level does not limit this one."""
        if self.x86:
            return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & self.flags)
        return "asimddp" in self.flags

    def describe(self) -> str:
        """One line for reports and benchmark headers, e.g.
        `x86_64, torch AVX2: avx2 fma; no avx512, no bf16, no vnni, no amx`."""
        if self.x86:
            present = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni")
                       if f in self.flags]  # fmt: skip
            present += ["amx"] if "amx_tile" in self.flags else []
        else:
            present = [f for f in ("asimd", "asimddp", "i8mm", "bf16", "sve", "sve2") if f in self.flags]
        missing = [name for name, has in self._summary() if not has]
        tail = f"; no {', no '.join(missing)}" if missing else ""
        return f"{self.arch}, torch {self.capability}: {' '.join(present) or 'baseline'}{tail}"

    def _summary(self) -> list[tuple[str, bool]]:
        summary = [("bf16", self.native_bf16), ("vnni" if self.x86 else "sdot", self.int8_dot)]
        return [("avx512", self.avx512), *summary, ("amx", self.amx)] if self.x86 else summary


def read_flags(cpuinfo: str) -> frozenset[str]:
    """Feature names of the first processor in a `/proc/cpuinfo` text ("flags" or "Features")."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in ("flags", "features"):
            return frozenset(value.lower().split())
    return frozenset()


@functools.cache
def detect() -> CpuFeatures:
    """This machine's CPU, read once per process."""
    import torch

    try:
        flags = read_flags(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux: what torch can tell
        flags = frozenset()
        if torch.cpu._is_avx512_bf16_supported():
            flags |= {"avx512f", "avx512_bf16"}
        if torch.cpu._is_amx_tile_supported():
            flags |= {"amx_tile"}
    capability = torch.backends.cpu.get_cpu_capability()
    return CpuFeatures(platform.machine(), flags, capability)
