"""Logs as a normalcy modality (see ``core.modality`` and docs/architecture.md)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="logs",
    package="normalcy.logs",
    base_class="normalcy.logs.base:LogDetector",
    reader="normalcy.logs.reader:read",
    reader_help=(
        "a sessions .jsonl file (one {'id', 'events'} record a line) or a text log "
        "(.log/.txt, one line a line, cut into windows of 20 lines)"
    ),
    demo="normalcy.logs.demo:LogsDemo",
    evaluation_kind="ranking",
    index_label="session",
    extras=("logs",),
    requires=("drain3",),
    title="Logs",
    order=40,
)
