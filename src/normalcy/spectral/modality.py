"""Spectral cubes as a normalcy modality (see ``core.modality``)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="spectral",
    package="normalcy.spectral",
    base_class="normalcy.spectral.base:SpectralDetector",
    reader="normalcy.spectral.reader:read",
    reader_help="a .npy file holding an H x W x B cube, or a .npz file with a 'cube' array",
    demo="normalcy.spectral.demo:SpectralDemo",
    evaluation_kind="ranking",
    index_label="pixel",
    title="Spectral cubes",
    order=65,
)
