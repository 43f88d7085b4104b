"""Categorical events as a normalcy modality (see ``core.modality`` and docs/architecture.md)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="events",
    package="normalcy.events",
    base_class="normalcy.events.base:EventDetector",
    reader="normalcy.events.reader:read",
    reader_help="a .csv or .parquet file, one event per row",
    demo="normalcy.events.demo:EventsDemo",
    evaluation_kind="ranking",
    index_label="event",
    extras=("events",),
    requires=("torch",),
    title="Categorical events",
    order=45,
)
