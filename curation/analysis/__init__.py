"""Per-image face analysis, shot tiers, duplicates and identity consistency."""

from curation.analysis.classify import FLAGS, ImageAnalysis
from curation.analysis.runner import DatasetAnalysis, analyze_dataset

__all__ = ["FLAGS", "DatasetAnalysis", "ImageAnalysis", "analyze_dataset"]
