"""Node-level detection as a normalcy modality (see ``core.modality``)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="nodes",
    package="normalcy.nodes",
    base_class="normalcy.nodes.base:NodeDetector",
    reader="normalcy.nodes.reader:read",
    reader_help="a .npz file with x (N x F features) and edge_index (2 x E, 0-based)",
    demo="normalcy.nodes.demo:NodesDemo",
    evaluation_kind="ranking",
    index_label="node",
    extras=("graph",),
    requires=("torch_geometric",),
    title="Graph nodes",
    order=55,
)
