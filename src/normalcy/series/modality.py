"""Time series as a normalcy modality (see ``core.modality`` and docs/architecture.md)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="series",
    package="normalcy.series",
    base_class="normalcy.series.base:SeriesDetector",
    reader="normalcy.series.reader:read",
    reader_help="a .csv or .parquet file (first column timestamp/time/date optional)",
    demo="normalcy.series.demo:SeriesDemo",
    evaluation_kind="series",
    index_label="step",
    title="Time series",
    order=30,
)
