"""What is being graded: the learner's file, the answer key, or a planted wrong solution.

A *solution* is a mapping from each function name of a lab to a callable. It comes
from one of three :class:`SolutionSource` s:

* ``answer``: the project's own functions, named in the lab's manifest (the
  answer key is never copied);
* ``file``: a Python file that must define every function (the learner's
  workspace, or the untouched skeleton). A missing function is a failed check,
  never a silent fallback to the answer key;
* ``mutant``: a file from the lab's ``mutants/`` that defines only the wrong
  function(s); the rest comes from the answer key.

The learner's functions are wrapped so that an exception they raise becomes a
:class:`LearnerError` naming the function, the exception and the line of the
learner's file: the grader reports it as a failed check, and never shows the
workbench's own traceback.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "SOLUTION_ENVIRONMENT_VARIABLE",
    "LearnerError",
    "NotImplementedYet",
    "SolutionSource",
    "load_answer_key",
    "load_solution",
    "resolve",
]

SOLUTION_ENVIRONMENT_VARIABLE = "DYNAMOKV_LAB_SOLUTION"
"""How a CrossHair subprocess learns which solution to load (JSON of a SolutionSource)."""

_MODULE_PREFIX = "dynamokv_lab_solution_"


class LearnerError(Exception):
    """The learner's code raised, or the learner's file could not be loaded.

    The message is one line, written for the learner.
    """


class NotImplementedYet(LearnerError):
    """The learner's function still raises the skeleton's ``NotImplementedError``."""


@dataclass(frozen=True)
class SolutionSource:
    """Where a solution comes from.

    Attributes:
        kind: ``answer``, ``file`` or ``mutant``.
        path: the file (``file`` and ``mutant`` only).
        label: how reports name it (``workspace``, ``answer key``, ``mutant NAME``).
        flags: the ``lab check`` options that select it again (for replay commands).
    """

    kind: str
    path: str = ""
    label: str = ""
    flags: str = ""

    def to_json(self) -> str:
        """The value of :data:`SOLUTION_ENVIRONMENT_VARIABLE` for a subprocess."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SolutionSource:
        """Read :meth:`to_json`'s output back."""
        return cls(**json.loads(text))

    @classmethod
    def from_environment(cls) -> SolutionSource:
        """The source a CrossHair subprocess was started for (the answer key if none)."""
        text = os.environ.get(SOLUTION_ENVIRONMENT_VARIABLE)
        return cls.from_json(text) if text else cls("answer", label="answer key")


def resolve(dotted: str) -> Callable[..., Any]:
    """The object named ``package.module.name``."""
    module_name, _, attribute = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    value: Callable[..., Any] = getattr(module, attribute)
    return value


def load_answer_key(
    answer_key: Mapping[str, str], *, contracts: bool = True
) -> dict[str, Callable[..., Any]]:
    """The project's own functions, by the names the learner uses.

    Args:
        answer_key: name -> dotted name of the project's function.
        contracts: keep the icontract wrappers; without them a symbolic search
            explores the body alone (the contracts are checked on their own by
            ``make crosshair``).
    """
    functions = {name: resolve(dotted) for name, dotted in answer_key.items()}
    if not contracts:
        functions = {
            name: getattr(function, "__wrapped__", function) for name, function in functions.items()
        }
    return functions


def _where(error: BaseException, path: Path) -> str:
    """``(ring.py, line 12)`` for the innermost frame of the learner's file, if any."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).resolve() == path.resolve()
    ]
    if not frames:
        return ""
    return f" ({path.name}, line {frames[-1].lineno})"


def _describe(error: BaseException) -> str:
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    text = str(error).strip().splitlines()
    return f"{name}: {text[0]}" if text else name


def _guard(name: str, function: Callable[..., Any], path: Path) -> Callable[..., Any]:
    """Wrap a learner function: its exceptions become one-line :class:`LearnerError` s."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except LearnerError:
            raise
        except NotImplementedError as error:
            raise NotImplementedYet(f"not implemented yet: {name}{_where(error, path)}") from None
        except RecursionError as error:
            raise LearnerError(f"{name} recursed too deeply{_where(error, path)}") from None
        except Exception as error:
            raise LearnerError(f"{name} raised {_describe(error)}{_where(error, path)}") from None

    return guarded


def _import_file(path: Path) -> ModuleType:
    """Import ``path`` as a fresh module; a syntax or import error is a :class:`LearnerError`."""
    name = _MODULE_PREFIX + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LearnerError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LearnerError(
            f"{path.name} does not parse: line {error.lineno}: {error.msg}"
        ) from None
    except Exception as error:
        raise LearnerError(
            f"importing {path.name} raised {_describe(error)}{_where(error, path)}"
        ) from None
    return module


def load_solution(
    source: SolutionSource,
    answer_key: Mapping[str, str],
    *,
    guard: bool = True,
    contracts: bool = True,
) -> dict[str, Callable[..., Any]]:
    """The functions of ``source``, by name.

    Args:
        source: what to load.
        answer_key: the lab's manifest entry (name -> dotted answer-key name).
        guard: wrap learner functions so their exceptions become :class:`LearnerError`.
        contracts: keep the answer key's contracts (see :func:`load_answer_key`).

    Raises:
        LearnerError: the file does not parse, raises on import, or lacks a function.
    """
    answer = load_answer_key(answer_key, contracts=contracts)
    if source.kind == "answer":
        return answer
    path = Path(source.path)
    module = _import_file(path)
    functions: dict[str, Callable[..., Any]] = {}
    for name in answer_key:
        function = getattr(module, name, None)
        if function is None and source.kind == "mutant":
            functions[name] = answer[name]
            continue
        if not callable(function):
            raise LearnerError(f"{path.name} defines no function {name}")
        functions[name] = _guard(name, function, path) if guard else function
    return functions
