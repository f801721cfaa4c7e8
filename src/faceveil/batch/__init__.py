"""``faceveil batch``: anonymise a dataset on a Dask cluster, resumable, with a manifest."""

from faceveil.batch.engine import BatchSummary, open_client, plan_pairs, run_batch, run_pairs
from faceveil.batch.manifest import ManifestWriter, read_manifest

__all__ = [
    "BatchSummary",
    "ManifestWriter",
    "open_client",
    "plan_pairs",
    "read_manifest",
    "run_batch",
    "run_pairs",
]
