"""Explanations of anomalies that work across data types (tabular and event columns).

``outrank``: cardinality-aware feature ranking (OutRank, Škrlj & Mramor 2023): which
columns carry the anomalies, and which columns to keep before ``auto`` on wide tables.
"""

from .outrank import OutRankOneHot, explain_anomalies, rank_columns, rank_features

__all__ = ["OutRankOneHot", "explain_anomalies", "rank_columns", "rank_features"]
