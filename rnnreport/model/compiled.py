r"""A step's element-wise work in C (``steps.c``), compiled here, or nothing.

At 32 units an LSTM step's element-wise work (four gates, the cell, :math:`\tanh c`, the
output) is about ten PyTorch operations forward and a dozen backward, each a pass over
memory through torch's dispatcher; ``steps.c`` does each direction in one pass, and the
fast path (:mod:`rnnreport.model.fast_forward`, :mod:`rnnreport.model.fast_backward`)
calls it once a step, leaving the matmuls to torch. The GRU that resets before its matmul
(the grid's) has a matmul in the middle of its step, so it takes two calls a step each
way. The C file is compiled on first use with the system's C compiler (``cc`` or ``gcc``: a
fraction of a second) for this CPU, into ``kernels`` in the cache directory, checked
against the digest stored beside it before every load, and loaded with ``ctypes``. Where
there is no compiler, or the build or the load fails, :func:`kernel` returns None and the
fast path runs the same equations as torch operations; :func:`status` says which and why.

The two ways round differently (the C file takes tanh and σ with its own exp), so a
trained model's cache key names the kernel (:func:`identity`): the hash of the C source,
which alone decides its results, bit for bit, whatever vector width the machine it
compiles on has (``tests/model/test_compiled.py`` builds it twice to check). That assumes
single-precision IEEE arithmetic with subnormal numbers kept, true of every 64-bit x86 and
ARM build; not of a 32-bit x87 build, nor after ``torch.set_flush_denormal(True)``, where
a saturated gate's tiny values can round differently.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from torch import Tensor

from .. import settings
from ..files import atomic_write, replacing

SOURCE = Path(__file__).with_name("steps.c")
FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC")
"""No ``-ffast-math``, no contraction: the source's rounding is what runs (see its header).
``-march=native`` sets the vector width only, so the library is built per CPU."""

_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
_SIGNATURES = {
    "lstm_forward_step": [_I64] * 6 + [_PTR] * 5,
    "lstm_backward_step": [_I64] * 6 + [_PTR] * 6,
    "gru_forward_gates": [_I64] * 2 + [_PTR] * 3,
    "gru_forward_state": [_I64] * 2 + [_PTR] * 4,
    "gru_backward_candidate": [_I64] * 4 + [_PTR] * 5,
    "gru_backward_reset": [_I64] * 3 + [_PTR] * 7,
}


class Kernel:
    """The compiled functions, called with sizes, block offsets and the addresses of
    contiguous float32 row blocks; the equations are in ``steps.c`` and in the docstrings
    of ``fast_backward.LSTMThroughTime`` and ``fast_backward.GRUThroughTime``:

    * ``lstm_forward(B, H, oi, oj, of, oo, g, c_prev, c, tanh_c, h)``,
      ``lstm_backward(B, H, oi, oj, of, oo, g, c_prev, tanh_c, dh, dc, da)``;
    * ``gru_gates(B, H, zr, h_prev, s)``, ``gru_state(B, H, h_tilde, zr, h_prev, h)``,
      ``gru_backward_candidate(B, H, oz, oh, zr, h_tilde, h_prev, dh, da)``,
      ``gru_backward_reset(B, H, or, zr, h_prev, ds, dh, dy_prev, da, dh_prev)``.
    """

    def __init__(self, library: ctypes.CDLL, identity: str) -> None:
        self.library, self.identity = library, identity
        for name, argtypes in _SIGNATURES.items():
            getattr(library, name).argtypes = argtypes
            getattr(library, name).restype = None
        self.lstm_forward = library.lstm_forward_step
        self.lstm_backward = library.lstm_backward_step
        self.gru_gates = library.gru_forward_gates
        self.gru_state = library.gru_forward_state
        self.gru_backward_candidate = library.gru_backward_candidate
        self.gru_backward_reset = library.gru_backward_reset


def rows(t: Tensor) -> list[int]:
    """The address of each ``t[k]`` of a contiguous tensor ``t`` (K, ...): the kernel's
    arguments, computed once before a loop over time."""
    first, step = t.data_ptr(), t[0].numel() * t.element_size()
    return [first + k * step for k in range(len(t))]


def kernel() -> Kernel | None:
    """The compiled kernel, built on first use in this process; None where it cannot be."""
    return _load()[0]


def identity() -> str | None:
    """What runs a step's element-wise work (the LSTM's, the GRU's resetting before), for
    cache keys: ``"c-<hash of the source>"``, or None for torch operations."""
    loaded = kernel()
    return None if loaded is None else loaded.identity


def status() -> str:
    """One line: which way a step's element-wise work runs here, and why."""
    return _load()[1]


@functools.cache
def _load() -> tuple[Kernel | None, str]:
    """The kernel (None where it cannot be built) and the line :func:`status` says."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "torch operations: no C compiler (cc or gcc) on PATH"
    try:
        source = SOURCE.read_bytes()
        library = _build(compiler, source)
        loaded = Kernel(ctypes.CDLL(str(library)), identity=_digest(source))
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        return None, f"torch operations: building {SOURCE.name} failed: {_first_line(error)}"
    return loaded, f"compiled C ({SOURCE.name} {loaded.identity}, {compiler})"


def _digest(source: bytes) -> str:
    return "c-" + hashlib.sha256(source).hexdigest()[:16]


def _build(compiler: str, source: bytes) -> Path:
    """The library built from ``SOURCE`` for this source, compiler, flags and CPU, under
    ``kernels`` in the cache directory the user controls (:func:`rnnreport.settings.cache_dir`).

    A library is used only when its bytes match the sha256 stored beside it; one that does
    not (truncated, say), or that has none, is built again. Both files are written
    atomically, so a process killed while building leaves none half-written; another
    process building the same files at the same time is harmless. Where the folder cannot
    be written, build into a private temporary one, for this process only.
    """
    machine = f"{platform.machine()} {_cpu_flags()}"
    name = hashlib.sha256(source + repr((compiler, FLAGS, machine)).encode()).hexdigest()[:16]
    target = _cache_folder() / f"steps-{name}.so"
    stored = target.with_suffix(".sha256")
    if _intact(target, stored):
        return target
    try:
        with replacing(target) as library:
            _compile(compiler, library)
            digest = _sha256(library)
        with atomic_write(stored) as file:
            file.write(digest.encode())
        return target
    except OSError:  # read-only, not a directory, full: this process builds its own
        return _compile(compiler, Path(tempfile.mkdtemp(prefix="rnnreport-kernels-")) / target.name)


def _intact(library: Path, stored: Path) -> bool:
    """Whether ``library`` exists and its bytes hash to the digest in ``stored``."""
    try:
        return stored.read_text().strip() == _sha256(library)
    except (OSError, UnicodeDecodeError):
        return False


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _compile(compiler: str, library: Path) -> Path:
    command = [compiler, *FLAGS, str(SOURCE), "-o", str(library)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return library


def _cache_folder() -> Path:
    return settings.cache_dir() / "kernels"


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), or its name: ``-march=native`` depends on them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):  # x86, ARM
                return hashlib.sha256(line.encode()).hexdigest()[:16]
    except OSError:
        pass
    return platform.processor()


def _first_line(error: BaseException) -> str:
    """The compiler's first line that says ``error`` (else its first line), or the error."""
    stderr = getattr(error, "stderr", None)
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) and stderr else str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if "error" in line.lower()]
    return (said or lines or [type(error).__name__])[0]
