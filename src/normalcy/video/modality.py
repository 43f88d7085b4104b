"""Video as a normalcy modality (see ``core.modality`` and docs/architecture.md)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="video",
    package="normalcy.video",
    base_class="normalcy.video.base:VideoDetector",
    reader="normalcy.video.reader:read",
    reader_help="a video file, a folder of frames, or a folder of clips (frame folders or videos)",
    demo="normalcy.video.demo:VideoDemo",
    evaluation_kind="ranking",
    maps_writer="normalcy.video.reader:write_maps",
    index_label="frame",
    extras=("video",),
    requires=("torch", "av", "cv2"),
    title="Video",
    order=25,
)
