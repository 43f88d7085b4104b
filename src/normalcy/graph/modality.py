"""Graph-level detection as a normalcy modality (see ``core.modality``)."""

from ..core.modality import Modality

MODALITY = Modality(
    name="graph",
    package="normalcy.graph",
    base_class="normalcy.graph.base:GraphDetector",
    reader="normalcy.graph.reader:read",
    reader_help="a TU-format folder (NAME_A.txt, NAME_graph_indicator.txt, ...)",
    demo="normalcy.graph.demo:GraphDemo",
    evaluation_kind="ranking",
    index_label="graph",
    extras=("graph",),
    requires=("torch_geometric",),
    title="Graphs",
    order=50,
)
