"""Registry rules both local stores follow, as MLflow 3.17's stores do: stage names, the
reserved ``latest`` alias, which version ``latest`` / a stage means, the order of logged models."""
from __future__ import annotations

import re
from typing import Iterable, List, Optional, Tuple

from tinyserve.stores.base import LoggedModelInfo, ModelVersionInfo, StoreError

STAGES = ("None", "Staging", "Production", "Archived")  # MLflow's ALL_STAGES
DELETED_STAGE = "Deleted_Internal"  # what MLflow's delete_model_version leaves behind
LATEST_ALIAS = "latest"  # reserved alias: models:/name@latest is the latest version
_LOGGED_MODEL_SOURCE = re.compile(r"^models:/(m-[^/]+)$")


def canonical_stage(stage: str) -> str:
    """MLflow's ``get_canonical_stage``: case-insensitive, and only its four stage names."""
    for known in STAGES:
        if known.lower() == stage.lower():
            return known
    raise StoreError(f"Invalid model version stage {stage!r}: MLflow's stages are "
                     f"{', '.join(STAGES)} (compared case-insensitively).")


def model_id_from_source(source: Optional[str]) -> Optional[str]:
    """The logged model a version was registered from, when its source is ``models:/m-...``."""
    match = _LOGGED_MODEL_SOURCE.match(source or "")
    return match.group(1) if match else None


def pick_latest(name: str, versions: Iterable[ModelVersionInfo], stage: Optional[str],
                where: str) -> ModelVersionInfo:
    """MLflow's ``models:/<name>/latest`` (no stage) and ``models:/<name>/<stage>``: the highest
    version, of that stage when given, among versions that are not deleted."""
    wanted = canonical_stage(stage) if stage is not None else None
    candidates = [mv for mv in versions if mv.current_stage != DELETED_STAGE
                  and (wanted is None or mv.current_stage == wanted)]
    if not candidates:
        if wanted is None:
            raise StoreError(f"Registered model {name!r} has no versions in {where}")
        raise StoreError(f"Registered model {name!r} has no version in stage {wanted!r} in {where}")
    return max(candidates, key=lambda mv: mv.version)


def order_logged_models(models: Iterable[Tuple[int, LoggedModelInfo]]) -> List[LoggedModelInfo]:
    """MLflow's search order for ``(creation_timestamp_ms, model)`` pairs: newest first, then by id."""
    ordered = sorted(models, key=lambda pair: (-(pair[0] or 0), pair[1].model_id))
    return [model for _, model in ordered]
