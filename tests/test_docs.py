"""The documentation covers every key of the file format."""
from pathlib import Path

from carbonsim.model import (DatacenterSpec, GridFileSpec, HardwareSpec, JobStreamSpec, PolicySpec, PoolSpec,
                                PublishedSpec, ScenarioFile, ScenarioMeta, SearchSpec, ServiceSpec, TrainingSpec)
from carbonsim.model.spec_measured import MeasuredSpec

DOC = (Path(__file__).resolve().parent.parent / "docs" / "scenario-format.md").read_text()


def test_every_key_is_documented():
    for model in (ScenarioFile, ScenarioMeta, HardwareSpec, DatacenterSpec, TrainingSpec, PublishedSpec, PolicySpec,
                  JobStreamSpec, SearchSpec, PoolSpec, GridFileSpec, ServiceSpec, MeasuredSpec):
        for key in model.model_fields:
            if key in ("hardware", "datacenters", "workloads", "scenario", "training", "job_stream", "search", "sweep", "service", "autoscaling", "measured"):
                continue
            assert f"`{key}`" in DOC, f"{model.__name__}.{key} is not in docs/scenario-format.md"
