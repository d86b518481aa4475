"""Response models of the API: the shape of every answer /openapi.json publishes.

Routes declare them as ``response_model`` and build their answers to them, so
what the schema says is what a client gets.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..artifacts.metadata import DataFingerprint
from .payloads import Division, Position


class ErrorItem(BaseModel):
    field: str = Field(description="the field (or body, or a parameter) at fault")
    message: str
    expected: str | None = None
    given_as: str | None = Field(None, description="the name the field was sent under")


class ErrorResponse(BaseModel):
    detail: str = Field(description="the first problem, starting with the field's name")
    errors: list[ErrorItem] = Field(description="every problem found (up to 50)")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: these statuses answer an :class:`ErrorResponse`."""
    return {code: {"model": ErrorResponse} for code in codes}


class WhatIfOption(BaseModel):
    input: str
    unit: str
    current: float | None
    suggested: float
    change: float | None
    direction: Literal["higher", "lower"]
    new_division: Division
    new_probability: float
    effort: float


class WhatIfResult(BaseModel):
    current_division: Division
    target_division: Division | None
    at_top: bool
    best: WhatIfOption | None
    options: list[WhatIfOption]
    unreachable: list[str]
    message: str


class Factor(BaseModel):
    input: str
    value: float
    typical: float
    unit: str
    effect: float = Field(description="expected division of this athlete minus that with this "
                                      "input at its typical value (division levels)")
    direction: Literal["raises", "lowers"]
    division_if_typical: Division


class UnusualInput(BaseModel):
    """An input given outside the range of the model's training data."""

    input: str = Field(description="the input, by its canonical name")
    value: float
    low: float = Field(description="the 0.5th percentile of the training rows' values")
    high: float = Field(description="the 99.5th percentile of the training rows' values")


class Prediction(BaseModel):
    """One athlete's prediction (what /predict/batch?explain=false returns)."""

    position: Position
    model_version: str
    predicted_division: Division
    predicted_tier: str
    probability: float
    confidence_score: float
    probabilities: dict[str, float]
    expected_division_index: float
    imputation_flags: dict[str, bool]
    unusual_inputs: list[UnusualInput] = Field(
        default_factory=list, description="inputs given outside the range of the training "
        "data (a missing input never is); empty for a version exported without its range")
    extrapolation_warning: str | None = Field(
        None, description="says that the prediction extrapolates, when any input is unusual")
    data_completeness_warning: str | None
    ignored_fields: list[str]
    integrated_inputs: list[str] = Field(
        description="inputs the prediction integrated over because they were not given and "
                    "cannot be derived (e.g. the per-game rate of a season total without "
                    "games); empty when the per-game rate was given or derived")
    integrated_over: str | None = Field(
        description="what was integrated over and how; null when nothing was")


class ExplainedPrediction(Prediction):
    """A prediction with its what-if, factors and text (/predict, and batches by default)."""

    notes: str
    goals: list[str]
    switches: list[str]
    calendar_advice: str
    what_if_results: WhatIfResult
    top_factors: list[Factor]


class TargetOption(WhatIfOption):
    """The smallest change of one input that reaches the target division or higher;
    ``new_probability`` is the probability of the target division or higher then."""


class TargetSearch(BaseModel):
    """/predict?target_division=...: the smallest single changes that reach a division."""

    target_division: Division
    min_probability: float
    current_probability: float = Field(
        description="the model's probability of the target division or higher now")
    reached: bool = Field(description="current_probability is at least min_probability")
    best: TargetOption | None
    options: list[TargetOption] = Field(description="one per input that reaches the target "
                                                    "within its plausible range, least effort "
                                                    "first")
    unreachable: list[str]
    message: str


class TargetedPrediction(ExplainedPrediction):
    """/predict with ``target_division``: the prediction and its target search."""

    target_search: TargetSearch


class ScenarioChange(BaseModel):
    field: str = Field(description="the input, by its canonical name")
    base: float | str | None
    modified: float | str | None


class ScenarioComparison(BaseModel):
    """/what-if: the base athlete against the modified one."""

    scenario_name: str | None
    base_division: Division
    modified_division: Division
    base_probability: float
    modified_probability: float
    base_confidence: float = Field(description="confidence_score of the base athlete")
    modified_confidence: float
    division_change: int = Field(description="modified minus base division, in levels "
                                             "(+1: one division up)")
    confidence_change: float
    expected_division_change: float
    base_probabilities: dict[str, float]
    probability_changes: dict[str, float] = Field(description="modified minus base, per "
                                                              "division")
    changes: list[ScenarioChange]
    base_unusual_inputs: list[UnusualInput] = Field(
        default_factory=list, description="the base athlete's inputs outside the range of "
        "the training data (the modified athlete's are the answer's unusual_inputs)")
    message: str


class WhatIfResponse(Prediction):
    """/what-if: the modified athlete's prediction and the comparison with the base."""

    scenario_name: str | None
    what_if_results: ScenarioComparison


class BatchResponse(BaseModel):
    count: int
    model_versions: dict[str, str]
    predictions: list[ExplainedPrediction] | list[Prediction]


class RootResponse(BaseModel):
    status: Literal["healthy"]
    service: str
    version: str
    docs: str


class LiveResponse(BaseModel):
    status: Literal["alive"]


class PositionHealth(BaseModel):
    loaded: bool
    version: str | None
    requested: str
    reason: str
    scoring: Literal["fast", "pipeline"] | None = Field(
        description="how requests are scored: the fast path (checked against the pipeline "
                    "at load) or the pipeline itself; null when no model is loaded")
    scoring_reason: str | None = Field(
        description="the fast path's check, or why the pipeline is used")
    format: Literal["skops", "pickle"] | None = Field(
        None, description="the file the served model was loaded from: skops, or pickle (only "
                          "with ALLOW_PICKLE=1); null when no model is loaded")


class ReleaseHealth(BaseModel):
    """The release the answering worker serves (every worker follows the models folder's)."""

    id: int | None = Field(description="the release's id in the history; null: none yet")
    versions: dict[str, str] = Field(description="the release's version per position")
    when: str | None = None
    by: str | None = None
    how: str | None = None
    action: str | None = None
    reason: str | None = None
    since: str = Field(description="when this worker started serving it (UTC)")
    following: list[Position] = Field(
        description="positions that follow the release (the others are pinned by "
                    "MODEL_VERSION*)")
    problem: str | None = Field(
        None, description="a version of the release this worker could not serve, and why")


class WorkerHealth(BaseModel):
    pid: int


class RateLimitHealth(BaseModel):
    """How requests are limited, and whether the counts are shared by every worker."""

    limit: str | None = Field(description="RATE_LIMIT: the limit of every route without one of "
                                          "its own; null: those are not limited")
    routes: dict[str, str | None] = Field(
        description="routes with a limit of their own (RATE_LIMIT_BATCH, RATE_LIMIT_WHATIF, "
                    "RATE_LIMITS): the limit, or null when the route is not limited")
    storage: Literal["memory", "redis"] = Field(description="where the counts are kept")
    scope: Literal["per worker", "shared"] = Field(
        description="per worker: each server process (and replica) counts alone; shared: "
                    "every worker and replica using the same Redis counts together")
    key: str = Field(description="what identifies a client")
    problem: str | None = Field(
        None, description="the storage cannot be reached: requests go uncounted meanwhile")


class SignatureHealth(BaseModel):
    """Whether a version must carry a signature one of VERIFY_KEY's public keys verifies."""

    checked: bool
    keys: list[str] = Field(description="the trusted public keys (file names)")
    note: str


class HealthResponse(BaseModel):
    status: Literal["healthy", "degraded"]
    service: str
    version: str
    models_loaded: int
    available_positions: list[Position]
    models: dict[str, PositionHealth]
    pickle_loading: bool = Field(
        False, description="ALLOW_PICKLE=1: a version without a skops file is unpickled "
                           "(which runs the file's code); false: such a version is refused")
    release: ReleaseHealth
    worker: WorkerHealth
    rate_limit: RateLimitHealth | None = Field(description="null: no rate limit is set")
    signatures: SignatureHealth


class ReadyResponse(HealthResponse):
    ready: bool


class Metrics(BaseModel):
    """Cross-validated means from the model's metadata."""

    exact_accuracy: float | None
    within_one_accuracy: float | None
    macro_f1: float | None
    log_loss: float | None


class VersionEntry(BaseModel):
    """One exported version; a version whose metadata cannot be read has only ``error``."""

    version: str
    created_at: str | None = None
    served: bool | None = None
    metrics: Metrics | None = None
    training_rows: int | None = None
    estimator: str | None = None
    error: str | None = None


class PositionSummary(BaseModel):
    """The served model of a position; the fields after ``reason`` only when one is loaded."""

    position: Position
    loaded: bool
    version: str | None
    requested: str
    reason: str
    created_at: str | None = None
    loaded_at: str | None = None
    metrics: Metrics | None = None
    estimator: str | None = None
    available_versions: list[str]


class PositionListing(PositionSummary):
    versions: list[VersionEntry]


class RecordLinks(BaseModel):
    """Where the audit record of the served model is."""

    notebook: str = Field(description="the executed notebook (path or URL)")
    html: str = Field(description="its HTML copy (path or URL)")
    url: str = Field(description="the API path serving the HTML copy, after checking that "
                                 "the record made the served artifact")


class CatalogInfo(BaseModel):
    """The football the served model was trained on (its metadata's catalog slice)."""

    name: str = Field(description="the catalog's name")
    digest: str = Field(description="sha256 of the position's spec: equal specs, equal digests")
    label: str = Field(description="the position's label")


class PositionDetail(PositionSummary):
    input_schema: dict[str, Any] | None = None
    data_fingerprint: DataFingerprint | None = None
    classes: list[str] | None = None
    catalog: CatalogInfo | None = None
    record: RecordLinks | None = Field(None, description="null: the served model has no "
                                                         "audit record (direct engine)")


class ModelsResponse(BaseModel):
    available_models: dict[str, PositionListing]
    total_models: int
    total_versions: int


class VersionsResponse(BaseModel):
    position: Position
    served_version: str | None
    versions: list[VersionEntry]
    total_versions: int


class SwitchResponse(BaseModel):
    position: Position
    previous_version: str | None
    version: str
    reason: str
    release: int | None = Field(description="the release this worker serves after the switch")


class InvocationsResponse(BaseModel):
    """MLflow's scoring protocol: one row of class probabilities per record, in input order."""

    predictions: list[list[float]] = Field(
        description="per record, the probabilities of its model's classes (its ladder's "
                    "levels, lowest first), in the class order GET /models/{position} "
                    "publishes")


class MlflowErrorResponse(BaseModel):
    """An error of MLflow's scoring protocol routes, in MLflow's shape."""

    error_code: str = Field(description="BAD_REQUEST (the body cannot be read), "
                                        "INVALID_PARAMETER_VALUE (a value the model refuses), "
                                        "RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE, ...")
    message: str = Field(description="the problem, starting with the field's name, e.g. "
                                     "dataframe_records[3].height_inches")


def mlflow_error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an MLflow protocol route: these statuses answer a
    :class:`MlflowErrorResponse`."""
    return {code: {"model": MlflowErrorResponse} for code in codes}


# --------------------------------------------------------------------------- Open Inference Protocol

class ErrorResponseV2(BaseModel):
    """Every error of the /v2 routes, in the protocol's shape."""

    error: str = Field(description="what is wrong, naming the input, model or version")


def v2_error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a /v2 route: these statuses answer an :class:`ErrorResponseV2`."""
    return {code: {"model": ErrorResponseV2} for code in codes}


class ServerMetadataV2(BaseModel):
    name: str
    version: str
    extensions: list[str]


class TensorMetadataV2(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: any number of rows")


class ModelMetadataV2(BaseModel):
    name: str = Field(description="the position")
    versions: list[str] = Field(description="the exported versions, each servable at "
                                            "/v2/models/{name}/versions/{version}")
    platform: str
    inputs: list[TensorMetadataV2] = Field(description="one column per input; only the "
                                                       "position's required ones must be given")
    outputs: list[TensorMetadataV2]
    parameters: dict[str, str] = Field(description="content_type pd: one tensor per column")


class OutputTensorV2(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, int | str] | None = Field(
        None, description="binary_data_size: the output's bytes follow the JSON header")
    data: list[float] | list[str] | None = Field(None, description="row-major, flattened")


class InferenceResponseV2(BaseModel):
    model_name: str
    model_version: str = Field(description="the version that scored the rows")
    id: str | None = Field(None, description="the request's id, when it had one")
    parameters: dict[str, str | int | float | bool] | None = Field(
        None, description="ignored_inputs: tensors that are not inputs of the model, comma-"
                          "separated")
    outputs: list[OutputTensorV2]
