"""Stand-in for ``mlflow.pyfunc.utils.data_validation``: the type-hint predict wrapper.

MLflow wraps every user-defined ``predict`` when the class is created; a pickled model keeps
that wrapper by value and refers to ``FuncInfo`` and ``_validate_model_input`` here by name.
Classes created while the stand-ins are active (models from code, classes in ``code_paths``
modules) are wrapped the same way by the stand-in ``PythonModel``.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

from mlflow.exceptions import MlflowException
from mlflow.models.signature import _extract_type_hints, _is_context_in_predict_function_signature
from mlflow.types.type_hints import (
    InvalidTypeHintException,
    _convert_data_to_type_hint,
    _infer_schema_from_list_type_hint,
    _is_type_hint_from_example,
    _signature_cannot_be_inferred_from_type_hint,
    _validate_data_against_type_hint,
)

_INVALID_SIGNATURE_ERROR_MSG = (
    "Model's `{func_name}` method contains invalid parameters: {invalid_params}. "
    "Only the following parameter names are allowed: context, model_input, and params. "
    "Note that invalid parameters will no longer be permitted in future versions."
)


class FuncInfo(NamedTuple):
    input_type_hint: Any
    input_param_name: str


def pyfunc(func: Callable) -> Callable:
    """Validate the input of ``func`` against its type hint (a no-op without a usable hint)."""
    return _wrap_predict_with_pyfunc(func, _get_func_info_if_type_hint_supported(func))


def _wrap_predict_with_pyfunc(func: Callable, func_info: Optional[FuncInfo]) -> Callable:
    if func_info is not None:
        model_input_index = _model_input_index_in_function_signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                args, kwargs = _validate_model_input(
                    args, kwargs, model_input_index, func_info.input_type_hint,
                    func_info.input_param_name,
                )
            except Exception as error:
                if isinstance(error, MlflowException):
                    raise error
                raise MlflowException(
                    "Failed to validate the input data against the type hint "
                    f"`{func_info.input_type_hint}`. Error: {error}"
                )
            return func(*args, **kwargs)

    else:

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

    wrapper._is_pyfunc = True
    return wrapper


def _check_func_signature(func: Callable, func_name: str) -> List[str]:
    param_names = [name for name in inspect.signature(func).parameters if name != "self"]
    invalid_params = set(param_names) - {"self", "context", "model_input", "params"}
    if invalid_params:
        warnings.warn(
            _INVALID_SIGNATURE_ERROR_MSG.format(func_name=func_name, invalid_params=invalid_params),
            FutureWarning,
            stacklevel=2,
        )
    return param_names


def _get_func_info_if_type_hint_supported(func: Callable) -> Optional[FuncInfo]:
    """The input hint of a predict function when MLflow would validate against it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        param_names = _check_func_signature(func, "predict")
    input_arg_index = 1 if _is_context_in_predict_function_signature(func=func) else 0
    type_hint = _extract_type_hints(func, input_arg_index=input_arg_index).input
    if type_hint is None:
        return None
    if _signature_cannot_be_inferred_from_type_hint(type_hint) or _is_type_hint_from_example(
        type_hint
    ):
        return None
    try:
        _infer_schema_from_list_type_hint(type_hint)
    except InvalidTypeHintException as error:
        raise MlflowException(
            f"{error.message} To disable data validation, remove the type hint from the "
            "predict function. Otherwise, fix the type hint."
        )
    except Exception as error:
        warnings.warn(
            "Type hint used in the model's predict function is not supported "
            f"for MLflow's schema validation. {error} "
            "Remove the type hint to disable this warning. "
            "To enable validation for the input data, specify input example "
            "or model signature when logging the model. ",
            UserWarning,
            stacklevel=3,
        )
        return None
    return FuncInfo(input_type_hint=type_hint, input_param_name=param_names[input_arg_index])


def _model_input_index_in_function_signature(func: Callable) -> int:
    parameters = inspect.signature(func).parameters
    index = 1 if "self" in parameters else 0
    if _is_context_in_predict_function_signature(parameters=parameters):
        index += 1
    return index


def _validate_model_input(
    args: tuple, kwargs: dict, model_input_index_in_sig: int, type_hint: Any,
    model_input_param_name: str,
) -> Tuple[tuple, dict]:
    """Find the model input among the call's arguments, convert and validate it in place."""
    model_input = None
    input_pos = None
    if model_input_param_name in kwargs:
        model_input = kwargs[model_input_param_name]
        input_pos = "kwargs"
    elif len(args) >= model_input_index_in_sig + 1:
        model_input = args[model_input_index_in_sig]
        input_pos = model_input_index_in_sig
    if input_pos is not None:
        data = _convert_data_to_type_hint(model_input, type_hint)
        data = _validate_data_against_type_hint(data, type_hint)
        if input_pos == "kwargs":
            kwargs[model_input_param_name] = data
        else:
            args = args[:input_pos] + (data,) + args[input_pos + 1:]
    return args, kwargs
