"""Runway: the create request's duration, metered once when a poll shows SUCCEEDED."""

from __future__ import annotations

from decimal import Decimal

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import media
from tests.proxy.providers._services_support import detect, fixture, observe

RUNWAY = "runway"
TASK = "17f20503-6c24-4c16-946b-35dbbce2af2f"
CREATE = fixture("runway", "image_to_video_request.json")


def _fresh() -> None:
    tasks = media._RUNWAY_TASKS
    tasks.created.clear()
    tasks.metered.clear()


def _create(body: bytes = CREATE, path: str = "/v1/image_to_video") -> None:
    observe(detect(RUNWAY, "POST", path), fixture("runway", "task_created.json"), request_body=body)


def test_detect() -> None:
    assert detect(RUNWAY, "POST", "/v1/image_to_video").operation == "video_generation"
    assert detect(RUNWAY, "POST", "/v1/text_to_image").operation == "image_generation"
    assert detect(RUNWAY, "GET", f"/v1/tasks/{TASK}").wire_format == media.RUNWAY_TASK
    assert detect_endpoint(RUNWAY, "DELETE", f"/v1/tasks/{TASK}") is None
    assert detect_endpoint(RUNWAY, "GET", "/v1/organization") is None


def test_create_is_not_billed_but_remembered() -> None:
    _fresh()

    result = observe(
        detect(RUNWAY, "POST", "/v1/image_to_video"),
        fixture("runway", "task_created.json"),
        request_body=CREATE,
    )

    assert (result.response_model, result.response_id) == ("gen4_turbo", TASK)
    assert result.units == {}
    assert result.problem == "task created; metered once, when GET /v1/tasks/{id} shows SUCCEEDED"


def test_succeeded_poll_meters_the_requested_duration_once() -> None:
    _fresh()
    _create()
    poll = detect(RUNWAY, "GET", f"/v1/tasks/{TASK}")

    running = observe(poll, fixture("runway", "task_running.json"))
    done = observe(poll, fixture("runway", "task_succeeded.json"))
    again = observe(poll, fixture("runway", "task_succeeded.json"))

    assert running.problem == "task is RUNNING; not billed yet"
    assert done.units == {"video_seconds": Decimal(10)}
    assert done.response_model == "gen4_turbo"
    assert again.units == {}
    assert again.problem == "task was already metered"


def test_image_task_counts_outputs() -> None:
    _fresh()
    _create(
        b'{"model": "gen4_image", "promptText": "a fox", "ratio": "1920:1080"}', "/v1/text_to_image"
    )

    result = observe(
        detect(RUNWAY, "GET", f"/v1/tasks/{TASK}"), fixture("runway", "task_succeeded.json")
    )

    assert result.units == {"images": Decimal(1)}


def test_task_created_elsewhere_says_why() -> None:
    _fresh()

    result = observe(
        detect(RUNWAY, "GET", f"/v1/tasks/{TASK}"), fixture("runway", "task_succeeded.json")
    )

    assert result.units == {}
    assert result.problem is not None and "not created through this proxy process" in result.problem


def test_create_without_duration_says_why_at_completion() -> None:
    _fresh()
    _create(
        b'{"model": "gen4_turbo", "promptImage": "https://example.com/a.jpg", "ratio": "1280:720"}'
    )

    result = observe(
        detect(RUNWAY, "GET", f"/v1/tasks/{TASK}"), fixture("runway", "task_succeeded.json")
    )

    assert result.problem == "the create request did not state a duration"
