r"""Which machine a measurement ran on: the CPU, and the vector instructions each part uses.

A speed ratio holds for one kind of CPU: torch.nn's LSTM runs in oneDNN's fused kernel,
its matmuls in MKL, our steps in ``steps.c`` compiled for the machine at hand, and each
gains differently from a newer CPU. :func:`this_machine` names what decides that:

* the CPU: its model name, x86 family and model (AMD's family 25 is Zen 3 and Zen 4,
  26 is Zen 5), logical cores, and the vector extensions it offers (``/proc/cpuinfo``);
* torch: the instruction set its own kernels dispatch to
  (``torch.backends.cpu.get_cpu_capability()``), the one oneDNN says it uses (its info
  line, read from a short child process run with ``ONEDNN_VERBOSE=1``, so this process's
  output is untouched), and its BLAS;
* our kernel (:mod:`rnnreport.model.compiled`): the compiler, the flags, what
  ``-march=native`` means to that compiler here, the vector extensions it enables, and
  the vector width the compiler's vectoriser used for ``steps.c``'s loops (GCC reports it).

Every probe that fails says so in its field instead of failing the benchmark.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .model import compiled

VECTOR_FLAGS = re.compile(r"^(sse\d.*|ssse3|avx.*|fma|amx.*|asimd.*|sve.*|neon)$")
"""The ``/proc/cpuinfo`` flags that name vector extensions (x86's SSE, AVX, AVX-512 and
AMX; ARM's Advanced SIMD and SVE)."""

_ONEDNN_PROBE = (
    "import torch\nm = torch.nn.LSTM(4, 4)\nm(torch.randn(2, 1, 4))[0].sum().backward()\n"
)
"""A child process's work: a tiny LSTM forward and backward, which runs oneDNN's RNN
primitive and makes it print its info lines."""


@dataclass(frozen=True)
class Machine:
    """The CPU and the instruction sets a benchmark's three kinds of code ran with."""

    cpu: str  # the model name, e.g. "AMD EPYC 9B14" (a virtual machine may say less)
    vendor: str  # e.g. "AuthenticAMD"; "" where not known
    family: int | None  # the x86 CPU family (25: Zen 3/4; 26: Zen 5); None off x86 Linux
    model: int | None  # the x86 model number within the family
    cores: int  # logical CPUs the system offers
    cpu_vectors: tuple[str, ...]  # the CPU's vector extensions (cpuinfo flags)
    torch_isa: str  # what torch's own CPU kernels dispatch to, e.g. "AVX512"
    onednn_isa: str  # what oneDNN (torch.nn.LSTM's fused kernel) says it uses
    blas: str  # the BLAS torch's matmuls call, as torch reports it
    compiler: str  # our kernel's compiler, its first --version line; "" where none
    kernel_flags: tuple[str, ...]  # what steps.c is compiled with
    kernel_march: str  # what -march=native selects with that compiler, e.g. "znver3"
    kernel_isa: tuple[str, ...]  # vector extensions -march=native enables, e.g. AVX512F
    kernel_vectors: str  # the vector width used in steps.c's loops, e.g. "64-byte"

    @property
    def kind(self) -> str:
        """The CPU kind a speed table holds for, e.g. ``AMD EPYC, family 25 model 17``."""
        if self.family is None:
            return self.cpu
        return f"{self.cpu}, family {self.family} model {self.model}"

    def lines(self) -> list[str]:
        """The description in three lines: the CPU, torch, our kernel."""
        widest = _widest(self.cpu_vectors)
        return [
            f"machine: {self.kind}, {self.cores} logical CPUs, vectors up to {widest}",
            f"torch's kernels: {self.torch_isa}; oneDNN (torch.nn.LSTM): {self.onednn_isa};"
            f" matmuls: {self.blas}",
            f"our steps.c: {self.compiler or 'no compiler'} {' '.join(self.kernel_flags)}"
            f" (-march=native: {self.kernel_march}, {_widest(self.kernel_isa)});"
            f" loops vectorised with {self.kernel_vectors}",
        ]


@functools.cache
def this_machine() -> Machine:
    """This machine (measured once per process: the oneDNN probe starts a child process)."""
    info = _cpuinfo()
    compiler = shutil.which("cc") or shutil.which("gcc")  # the one compiled.py builds with
    flags = [f for f in compiled.FLAGS if f not in ("-shared", "-fPIC")]
    return Machine(
        cpu=info.get("model name") or platform.processor() or platform.machine(),
        vendor=info.get("vendor_id", ""),
        family=int(info["cpu family"]) if info.get("cpu family", "").isdigit() else None,
        model=int(info["model"]) if info.get("model", "").isdigit() else None,
        cores=os.cpu_count() or 1,
        cpu_vectors=tuple(f for f in info.get("flags", "").split() if VECTOR_FLAGS.match(f)),
        torch_isa=torch.backends.cpu.get_cpu_capability(),
        onednn_isa=_onednn_isa(),
        blas=_blas(),
        compiler=_first_line(_run([compiler, "--version"])) if compiler else "",
        kernel_flags=compiled.FLAGS,
        kernel_march=_march(compiler, flags) if compiler else "no compiler",
        kernel_isa=_kernel_isa(compiler, flags) if compiler else (),
        kernel_vectors=_kernel_vectors(compiler, flags) if compiler else "no compiler",
    )


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (Linux); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "flags" not in fields and "features" in fields:  # ARM names them Features
        fields["flags"] = fields["features"]
    return fields


def _widest(extensions: tuple[str, ...]) -> str:
    """The widest vector family among ``extensions`` (cpuinfo flags or compiler macros)."""
    names = {e.lower().replace("_", "") for e in extensions}
    for family, prefix in (("AMX", "amx"), ("AVX-512", "avx512"), ("SVE", "sve")):
        if any(n.startswith(prefix) for n in names):
            return family
    for family, name in (("AVX2", "avx2"), ("AVX", "avx"), ("NEON", "asimd"), ("NEON", "neon")):
        if name in names:
            return family
    return "SSE" if any(n.startswith("sse") for n in names) else "none named"


def _run(command: list[str], **kwargs) -> str:
    """The stdout and stderr of ``command``, or the reason it could not run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"({type(error).__name__}: {error})"
    return done.stdout + done.stderr


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _onednn_isa() -> str:
    """What oneDNN's info line says it uses, from a child process running a tiny LSTM."""
    if not torch.backends.mkldnn.is_available():
        return "oneDNN not in this torch"
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "OMP_NUM_THREADS": "1"}
    found = re.search(r"isa:(.*)", _run([sys.executable, "-c", _ONEDNN_PROBE], env=env))
    return found.group(1).strip() if found else "not reported"


def _blas() -> str:
    """The BLAS torch's build names (for float32 matmuls on the CPU: MKL or OpenBLAS)."""
    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", config)
    if mkl:
        return f"MKL {mkl.group(1)}"
    named = re.search(r"BLAS_INFO=(\w+)", config)
    return named.group(1) if named else "not named"


def _march(compiler: str, flags: list[str]) -> str:
    """What ``-march=native`` selects (GCC says it; other compilers: "native")."""
    found = re.search(r"-march=\s+(\S+)", _run([compiler, *flags, "-Q", "--help=target"]))
    return found.group(1) if found else "native"


def _kernel_isa(compiler: str, flags: list[str]) -> tuple[str, ...]:
    """The vector extensions the compiler may use with ``flags``: its predefined macros."""
    macros = _run([compiler, *flags, "-dM", "-E", "-x", "c", os.devnull])
    pattern = r"#define __((?:AVX|SSE|FMA|AMX|ARM_NEON|ARM_FEATURE_SVE)\w*?)__ 1"
    found = set(re.findall(pattern, macros))
    return tuple(sorted(m for m in found if not m.endswith("_MATH")))  # SSE_MATH: not a set


def _kernel_vectors(compiler: str, flags: list[str]) -> str:
    """The widest vectors GCC's vectoriser used for ``steps.c`` with ``flags``."""
    report = _run(
        [compiler, *flags, "-fopt-info-vec-optimized", "-S", "-o", os.devnull, compiled.SOURCE]
    )
    widths = [int(w) for w in re.findall(r"using (\d+) byte vectors", report)]
    return f"{max(widths)}-byte vectors" if widths else "width not reported by this compiler"
