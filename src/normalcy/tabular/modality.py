"""Tabular data as a normalcy modality (see ``core.modality`` and docs/architecture.md)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="tabular",
    package="normalcy.tabular",
    base_class="normalcy.tabular.base:TabularDetector",
    reader="normalcy.tabular.reader:read",
    reader_help="a .csv or .parquet file",
    demo="normalcy.tabular.demo:TabularDemo",
    evaluation_kind="ranking",
    index_label="row",
    title="Tabular data",
    order=10,
)
