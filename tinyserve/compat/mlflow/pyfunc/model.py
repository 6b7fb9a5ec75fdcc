"""Stand-in for ``mlflow.pyfunc.model``: ``PythonModel``, its context, function models.

A pickled custom model is an instance of a class whose base is ``PythonModel`` (by name);
a function model is an instance of ``_FunctionPythonModel`` (by name) holding the function.
Subclasses created while the stand-ins are active get their ``predict`` wrapped for type-hint
validation, as MLflow's ``__init_subclass__`` does.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any, Callable, Dict, Optional

from mlflow.models.signature import (
    _extract_type_hints,
    _is_context_in_predict_function_signature,
    _TypeHints,
)
from mlflow.pyfunc.utils import pyfunc
from mlflow.pyfunc.utils.data_validation import (
    _check_func_signature,
    _get_func_info_if_type_hint_supported,
    _wrap_predict_with_pyfunc,
)


class PythonModel:
    """Base class of custom pyfunc models: ``load_context`` once, then ``predict``."""

    __metaclass__ = ABCMeta

    def load_context(self, context: "PythonModelContext") -> None:
        """Load artifacts at load time; the default does nothing."""

    @property
    def predict_type_hints(self) -> _TypeHints:
        """The input/output hints of ``predict`` (cached on the instance, as MLflow does)."""
        if hasattr(self, "_predict_type_hints"):
            return self._predict_type_hints
        input_arg_index = 1 if _is_context_in_predict_function_signature(func=self.predict) else 0
        self._predict_type_hints = _extract_type_hints(self.predict, input_arg_index)
        return self._predict_type_hints

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("mlflow."):
            cls.predict._is_pyfunc = True
            return
        if getattr(cls, "_skip_type_hint_validation", False):
            return
        predict_attr = cls.__dict__.get("predict")
        if predict_attr is not None and callable(predict_attr):
            func_info = _get_func_info_if_type_hint_supported(predict_attr)
            setattr(cls, "predict", _wrap_predict_with_pyfunc(predict_attr, func_info))
        predict_stream_attr = cls.__dict__.get("predict_stream")
        if predict_stream_attr is not None and callable(predict_stream_attr):
            _check_func_signature(predict_stream_attr, "predict_stream")

    @abstractmethod
    def predict(self, context: Any, model_input: Any, params: Optional[Dict[str, Any]] = None
                ) -> Any:
        """Evaluate a pyfunc-compatible input; ``context`` may be left out of the signature."""

    def predict_stream(self, context: Any, model_input: Any,
                       params: Optional[Dict[str, Any]] = None) -> Any:
        raise NotImplementedError()


class _FunctionPythonModel(PythonModel):
    """A plain function saved as ``python_model=``; params never reach the function."""

    def __init__(self, func: Callable, signature: Any = None) -> None:
        self.signature = signature
        self.func = func if getattr(func, "_is_pyfunc", False) else pyfunc(func)

    @property
    def predict_type_hints(self) -> _TypeHints:
        if hasattr(self, "_predict_type_hints"):
            return self._predict_type_hints
        self._predict_type_hints = _extract_type_hints(self.func, input_arg_index=0)
        return self._predict_type_hints

    def predict(self, model_input: Any, params: Optional[Dict[str, Any]] = None) -> Any:
        return self.func(model_input)


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: artifact paths and the model config."""

    def __init__(self, artifacts: Dict[str, str], model_config: Optional[Dict[str, Any]]) -> None:
        self._artifacts = artifacts
        self._model_config = model_config

    @property
    def artifacts(self) -> Dict[str, str]:
        """``{name: absolute path}`` of the artifacts saved with the model."""
        return self._artifacts

    @property
    def model_config(self) -> Optional[Dict[str, Any]]:
        """The effective model configuration (saved config with load-time overrides)."""
        return self._model_config
