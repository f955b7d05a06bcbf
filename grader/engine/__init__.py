"""The boundary to Docker: the only package of the grader that imports the SDK.

    connection  connect() -> Engine: one engine that answers
    session     Sandbox: a grading session (builds, images, networks, containers, exec, HTTP),
                labelled and released on close(); remove_leftovers()
    build       the build, its time bound and the steps read from its log (buildlog)
    images      image facts, history and layers
    containers  limits, services, states, HTTP answers, listeners and CPU use, testinfra exec
    admin       what the base-image set-up needs (pulls, imports, recipe builds, disk)
    errors      SDK errors turned into the project's own

Everything returned is a plain dataclass of this package; every SDK failure leaves as
`grader.errors.EngineError`.
"""

from grader.engine.build import BuildOutcome, BuildRequest
from grader.engine.buildlog import BuildStep
from grader.engine.connection import Engine, connect
from grader.engine.containers import (
    OUTPUT_CAP,
    Completion,
    ContainerState,
    HttpAnswer,
    Limits,
    Listener,
    Service,
)
from grader.engine.errors import Cancelled, ContainerRefused
from grader.engine.images import (
    LAYER_SCAN_MAX_BYTES,
    HistoryRow,
    ImageFacts,
    ImageHistory,
    ImageLayer,
    LayerEntry,
    LayerScanRefused,
)
from grader.engine.session import (
    OWNER_LABEL,
    SESSION_LABEL,
    Sandbox,
    remove_leftover_cgroups,
    remove_leftovers,
)

__all__ = [
    "LAYER_SCAN_MAX_BYTES",
    "OUTPUT_CAP",
    "OWNER_LABEL",
    "SESSION_LABEL",
    "BuildOutcome",
    "BuildRequest",
    "BuildStep",
    "Cancelled",
    "Completion",
    "ContainerRefused",
    "ContainerState",
    "Engine",
    "HistoryRow",
    "HttpAnswer",
    "ImageFacts",
    "ImageHistory",
    "ImageLayer",
    "LayerEntry",
    "LayerScanRefused",
    "Limits",
    "Listener",
    "Sandbox",
    "Service",
    "connect",
    "remove_leftover_cgroups",
    "remove_leftovers",
]
