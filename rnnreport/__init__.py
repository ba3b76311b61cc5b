"""rnnreport: LSTM vs GRU on row-by-row binarized MNIST, an executable report.

The package, from the bottom up (a part imports only parts above it in this list):

- :mod:`rnnreport.files`: the one atomic writer, which every part may use;
- :mod:`rnnreport.settings`: the environment, read in one place;
- ``rnnreport.model``: the equations (``cells``), unrolling and stacking (``rnn``, its fast
  path ``fast_forward``, ``fast_backward`` and ``compiled``), torch's weight map
  (``torch_weights``), the assignment's classifier (``classifier``), the whole-image
  baselines (``whole_image``) and the counter (``counter``);
- ``rnnreport.inspection``: recording inside a model (``probes``), figures (``plots``)
  and tables (``tables``);
- ``rnnreport.theory``: the SymPy derivations for Q1, witnessed on the cells;
- ``rnnreport.data``: offline MNIST in its binary and grey views, and the counting
  languages;
- ``rnnreport.training``: the training cache and what every training goes through
  (``records``, ``store``, ``fitting``), the tasks (``mnist``, ``counting``), the Dask
  queue (``engine``) and its cluster (``cluster``), and what the terminal shows
  (``progress``);
- ``rnnreport.experiments``: the results layer and its families (the grid, the
  baselines) and what the 2018 reports said;
- :mod:`rnnreport.bench` and :mod:`rnnreport.cli`: the benchmark and the command line.
"""

import signal
import sys

__version__ = "0.1.0"


_interrupted = False


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C's doing: a KeyboardInterrupt in its chain, or Ctrl-C
    reached this script and was never handled (it can leave a library half-imported, whose
    next use fails otherwise). A script that catches Ctrl-C and goes on should call
    :func:`interrupt_handled`."""
    chain, seen = error, set()
    while chain is not None and id(chain) not in seen:
        if isinstance(chain, KeyboardInterrupt):
            return True
        seen.add(id(chain))
        chain = chain.__cause__ or chain.__context__
    return _interrupted


def interrupt_handled() -> None:
    """Ctrl-C was caught and dealt with: later errors are errors again."""
    global _interrupted
    _interrupted = False


def _on_interrupt(signum: int, frame: object) -> None:
    global _interrupted
    _interrupted = True
    if _importing(frame) and hasattr(signal, "setitimer"):
        # raised inside an import that torch's C++ runs, it would abort the process: ask
        # again in 50 ms, when the import is likely done
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        return
    raise KeyboardInterrupt


def _importing(frame: object) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):  # type: ignore[attr-defined]
            return True
        frame = frame.f_back  # type: ignore[attr-defined]
    return False


def _one_line(kind: type[BaseException], error: BaseException, traceback: object) -> None:
    """An uncaught error of the package's own kinds (a bad setting, missing data, a diverged
    training) or an interruption, in a script such as a gallery example run standalone: one
    line, as the command line says it, instead of a traceback. Anything else, as before."""
    if issubclass(kind, KeyboardInterrupt) or caused_by_interrupt(error):
        print("rnnreport: interrupted; finished epochs are kept and resume next time",
              file=sys.stderr)  # fmt: skip
    elif kind.__module__.partition(".")[0] == __name__:
        print(f"rnnreport: {error}", file=sys.stderr)
    else:
        _previous(kind, error, traceback)


_previous = sys.excepthook
_script = not (hasattr(sys, "ps1") or sys.flags.interactive)  # not a REPL or a notebook
if _script and sys.excepthook is sys.__excepthook__:  # a hook someone else set stays theirs
    sys.excepthook = _one_line
    from contextlib import suppress

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        with suppress(ValueError):  # imported first in another thread: signals are the main's
            signal.signal(signal.SIGINT, _on_interrupt)  # as Python's, and remembered
            if hasattr(signal, "SIGALRM") and signal.getsignal(signal.SIGALRM) is signal.SIG_DFL:
                signal.signal(signal.SIGALRM, _on_interrupt)  # a Ctrl-C put off by an import

from .settings import end_with_client  # noqa: E402

end_with_client()  # a process of the embedded cluster, preloading the package
