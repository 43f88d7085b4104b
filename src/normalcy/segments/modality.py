"""Signal segments as a normalcy modality (see ``core.modality``)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="segments",
    package="normalcy.segments",
    base_class="normalcy.segments.base:SegmentDetector",
    reader="normalcy.segments.reader:read",
    reader_help="a .npy file holding an N x T (or N x T x C) array of segments",
    demo="normalcy.segments.demo:SegmentsDemo",
    evaluation_kind="ranking",
    index_label="segment",
    title="Signal segments (EEG)",
    order=37,
)
