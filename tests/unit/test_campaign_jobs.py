"""Campaign page jobs on the evaluations queue: a kind of their own, read strictly, leaving per-event jobs as
they were."""
from __future__ import annotations

import json

import pytest

from chalicelib.runner.campaigns import CampaignJob, MalformedCampaignJob
from chalicelib.runner.evaluation import Job


@pytest.mark.parametrize("job", [CampaignJob("t1", "cmp_1"), CampaignJob("t1", "cmp_1", "vip||c0042")])
def test_a_campaign_job_reads_back_as_written(job):
    assert CampaignJob.is_one(job.to_body())
    assert CampaignJob.parse(job.to_body()) == job


def test_a_per_event_job_is_not_a_campaign_job_and_reads_as_before():
    body = Job("t1", "christmas", "2026-12-18T00:00:00Z").to_body()
    assert not CampaignJob.is_one(body) and Job.parse(body).type == "christmas"
    assert not CampaignJob.is_one("not json") and not CampaignJob.is_one("[]")


@pytest.mark.parametrize("data", [
    {"kind": "campaign", "tenant_id": "t1"},
    {"kind": "campaign", "tenant_id": "t1", "campaign_id": ""},
    {"kind": "campaign", "tenant_id": 7, "campaign_id": "cmp_1"},
    {"kind": "campaign", "tenant_id": "t1", "campaign_id": "cmp_1", "after": None},
    {"kind": "campaign", "tenant_id": "t1", "campaign_id": "cmp_1", "page": 2},
])
def test_a_malformed_campaign_job_is_refused(data):
    with pytest.raises(MalformedCampaignJob):
        CampaignJob.parse(json.dumps(data))
