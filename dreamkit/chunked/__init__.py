"""Registers bigger than memory: SAS/Parquet to person-partitioned Parquet, and a resumable
chunk runner that calls the in-memory readers, outcomes and person-period functions per person
chunk within a memory budget. Guide: ``docs/large-registers.md``.
"""

from dreamkit.chunked.budget import ChunkPlan, parse_budget, plan_chunks
from dreamkit.chunked.convert import convert_sas, partition_register
from dreamkit.chunked.dataset import Partition, PartitionedRegister
from dreamkit.chunked.manifest import ChunkRecord, Manifest
from dreamkit.chunked.outcomes import ChunkedOutcomes, chunked_outcomes, chunked_person_periods
from dreamkit.chunked.runner import ChunkOutput, ChunkRun, job_keys, run_chunks
from dreamkit.chunked.writer import DatasetWriter

__all__ = [
    "ChunkOutput",
    "ChunkPlan",
    "ChunkRecord",
    "ChunkRun",
    "ChunkedOutcomes",
    "DatasetWriter",
    "Manifest",
    "Partition",
    "PartitionedRegister",
    "chunked_outcomes",
    "chunked_person_periods",
    "convert_sas",
    "job_keys",
    "parse_budget",
    "partition_register",
    "plan_chunks",
    "run_chunks",
]
