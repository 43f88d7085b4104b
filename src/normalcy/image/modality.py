"""Images as a normalcy modality (see ``core.modality`` and docs/architecture.md)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="image",
    package="normalcy.image",
    base_class="normalcy.image.base:ImageDetector",
    reader="normalcy.image.reader:read",
    reader_help="a folder of images, or one image file",
    demo="normalcy.image.demo:ImageDemo",
    evaluation_kind="ranking",
    maps_writer="normalcy.image.reader:write_maps",
    index_label="image",
    extras=("image",),
    requires=("torch", "faiss"),
    title="Images",
    order=20,
)
