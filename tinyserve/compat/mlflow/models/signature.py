"""Stand-in for the parts of ``mlflow.models.signature`` that pickled models use.

Every PythonModel saved by MLflow 3.x carries a pickled ``_TypeHints`` (its cached
``_predict_type_hints``); the type-hint helpers below follow MLflow 3.17 so that the stand-in
``PythonModel`` reads the same hints from a predict function as MLflow would.
"""
from __future__ import annotations

import inspect
import logging
import re
from typing import Any, Callable, List, Optional, get_type_hints

from mlflow.exceptions import MlflowException

_logger = logging.getLogger(__name__)

# ``t\w*\.`` matches the ``typing`` module or an alias of it.
_LIST_OF_STRINGS_PATTERN = re.compile(r"^(t\w*\.)?list\[str\]$", re.IGNORECASE)
_LIST_OF_STR_DICT_PATTERN = re.compile(
    r"^(t\w*\.)?list\[(t\w*\.)?dict\[str,str\]\]$", re.IGNORECASE
)


class ModelSignature:
    """Inputs, outputs and params of a model (pickled inside function models saved with an
    explicit signature; tinyserve reads the signature from MLmodel instead)."""

    def __init__(self, inputs: Any = None, outputs: Any = None, params: Any = None) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.params = params


class _TypeHints:
    """The input and output type hints of a predict function."""

    def __init__(self, input_: Any = None, output: Any = None) -> None:
        self.input = input_
        self.output = output

    def __repr__(self) -> str:
        return f"<input: {self.input}, output: {self.output}>"


def _is_list_str(hint_str: str) -> bool:
    return _LIST_OF_STRINGS_PATTERN.match(hint_str.replace(" ", "")) is not None


def _is_list_of_string_dict(hint_str: str) -> bool:
    return _LIST_OF_STR_DICT_PATTERN.match(hint_str.replace(" ", "")) is not None


def _infer_hint_from_str(hint_str: str) -> Any:
    """Best effort for hints that cannot be evaluated: the two string forms MLflow knows."""
    if _is_list_str(hint_str):
        return list[str]
    if _is_list_of_string_dict(hint_str):
        return list[dict[str, str]]
    return None


def _get_arg_names(f: Callable) -> List[str]:
    return list(inspect.signature(f).parameters.keys())


def _extract_type_hints(f: Any, input_arg_index: int) -> _TypeHints:
    """The hints of argument ``input_arg_index`` (not counting ``self``) and of the return."""
    if not hasattr(f, "__annotations__") and hasattr(f, "__call__"):
        return _extract_type_hints(f.__call__, input_arg_index)
    if f.__annotations__ == {}:
        return _TypeHints()
    arg_names = [name for name in _get_arg_names(f) if name != "self"]
    if len(arg_names) - 1 < input_arg_index:
        raise MlflowException.invalid_parameter_value(
            f"The specified input argument index ({input_arg_index}) is out of range for the "
            "function signature: {}".format(input_arg_index, arg_names)
        )
    arg_name = arg_names[input_arg_index]
    try:
        hints = get_type_hints(f)
    except (TypeError, NameError):
        hints = {}
        for arg in (arg_name, "return"):
            hint_str = f.__annotations__.get(arg, None)
            if hint_str:
                hint = _infer_hint_from_str(hint_str)
                if hint:
                    hints[arg] = hint
                else:
                    _logger.info("Unsupported type hint: %s, skipping schema inference", hint_str)
    except Exception as error:
        _logger.warning("Failed to extract type hints from function %s: %s", f.__name__,
                        repr(error))
        return _TypeHints()
    return _TypeHints(hints.get(arg_name), hints.get("return"))


def _is_context_in_predict_function_signature(
    *, func: Optional[Callable] = None, parameters: Any = None
) -> bool:
    """``predict(self, context, model_input, ...)``, or any two arguments besides ``params``."""
    if parameters is None:
        if func is None:
            raise ValueError("Either `func` or `parameters` must be provided.")
        parameters = inspect.signature(func).parameters
    return "context" in parameters or (
        len([name for name in parameters if name not in ("self", "params")]) == 2
    )
