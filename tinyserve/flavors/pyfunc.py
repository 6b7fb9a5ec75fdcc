"""``loader_module: mlflow.pyfunc.model``: a custom ``PythonModel`` saved with cloudpickle.

The pickle names MLflow classes (``mlflow.pyfunc.model.PythonModel`` as a base class, the
type-hint predict wrapper's helpers), so MLflow's names are made importable first: the real
ones where MLflow is installed, tinyserve's stand-ins elsewhere. The model's ``code``
directory is already on ``sys.path`` (classes from ``code_paths`` modules are pickled by
reference). Unpickling runs code from the model file: load only trusted models.
"""
from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import os
from typing import Any, Callable, Dict, Tuple

import cloudpickle

from tinyserve import compat
from tinyserve.errors import ModelLoadError
from tinyserve.flavors.common import (
    PYFUNC_PICKLE_DISALLOWED,
    LoadRequest,
    load_failure,
    pickle_deserialization_allowed,
)
from tinyserve.flavors.protocol import PythonModelWrapper, prepare_python_model

logger = logging.getLogger("tinyserve")

# python_model_compression -> how to open the file (MLflow's _COMPRESSION_INFO)
DECOMPRESSORS: Dict[str, Callable[..., Any]] = {"lzma": lzma.open, "bzip2": bz2.open,
                                                "gzip": gzip.open}
MODEL_CODE_PATH = "model_code_path"


def load(request: LoadRequest) -> Tuple[PythonModelWrapper, Any]:
    """A model from code when MLmodel names ``model_code_path``, else the pickled model."""
    compat.use_mlflow_names()
    if MODEL_CODE_PATH in request.conf:
        from tinyserve.flavors.code_model import run_model_code

        python_model = run_model_code(request)
    else:
        python_model = unpickle_python_model(request)
    return prepare_python_model(python_model, request), python_model


def unpickle_python_model(request: LoadRequest) -> Any:
    """Read ``python_function.python_model``, decompressing it as the flavor says."""
    if not pickle_deserialization_allowed():
        raise ModelLoadError(PYFUNC_PICKLE_DISALLOWED)
    saved_version = request.conf.get("cloudpickle_version")
    if saved_version is None:
        logger.warning("The version of CloudPickle used to save the model could not be found "
                       "in the MLmodel configuration")
    elif str(saved_version) != cloudpickle.__version__:
        logger.warning("The version of CloudPickle that was used to save the model, `CloudPickle "
                       "%s`, differs from the version of CloudPickle that is currently running, "
                       "`CloudPickle %s`, and may be incompatible", saved_version,
                       cloudpickle.__version__)
    subpath = request.conf.get("python_model")
    if subpath is None:
        raise ModelLoadError("Python model path was not specified in the model configuration")
    compression = request.conf.get("python_model_compression")
    if compression and compression not in DECOMPRESSORS:
        logger.warning("Unrecognized compression method '%s'Please select one of: %s. Falling "
                       "back to uncompressed storage/loading.", compression,
                       ", ".join(sorted(DECOMPRESSORS)))
    file_open = DECOMPRESSORS.get(compression, open)
    path = os.path.join(request.data_path, str(subpath))
    try:
        with file_open(path, "rb") as handle:
            return cloudpickle.load(handle)
    except Exception as error:
        what = f"the custom pyfunc model {os.path.relpath(path, request.model_dir)}"
        raise load_failure(error, what, request.model_dir) from error
