"""Image and video generation: Stability AI and Runway.

- Stability AI (https://platform.stability.ai/docs/api-reference): billed in credits per
  successful generation, fixed per endpoint and model; responses carry no credit count. One
  image per v2beta call (`/v2beta/stable-image/{generate,edit,upscale,control}/{name}`; the body is
  the image, or JSON with `image`), `len(artifacts)` for v1 `/v1/generation/{engine}/...`. The
  model is the endpoint name, or the multipart `model` field of `generate/sd3`.
- Runway (https://docs.dev.runwayml.com/api/): `POST /v1/{image_to_video,text_to_video,...}`
  creates a task (`{"id"}`); `GET /v1/tasks/{id}` polls it. Billed per second of output video
  by model - but the task object carries neither, so the create request's `model` and
  `duration` are remembered by task id (this process only) and metered once when a poll shows
  `SUCCEEDED`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from proxy.providers.base import Endpoint, Provider, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, mapping, text
from proxy.providers.services._common import (
    ENDPOINT,
    IMAGE_GENERATION,
    IMAGES,
    VIDEO_GENERATION,
    VIDEO_SECONDS,
    Context,
    HeaderReader,
    JsonReader,
    Ledger,
    ServiceFormat,
    context_for,
    json_object,
    metered,
    quantity,
)

STABILITY: Final = "stability"
RUNWAY: Final = "runway"
STABILITY_IMAGE: Final = "stability_image"
RUNWAY_IMAGE: Final = "runway_create_image"
RUNWAY_VIDEO: Final = "runway_create_video"
RUNWAY_TASK: Final = "runway_task"

PROVIDERS: Final = (
    Provider(STABILITY, ("api.stability.ai",), "https://api.stability.ai", "stability"),
    Provider(
        RUNWAY,
        ("api.dev.runwayml.com", "api.runwayml.com"),
        "https://api.dev.runwayml.com",
        "runway",
    ),
)

_V2_IMAGE = re.compile(r"/v2beta/stable-image/(?P<name>(generate|edit|upscale|control)/[a-z0-9-]+)")
_V1_IMAGE = re.compile(r"/v1/generation/(?P<engine>[^/]+)/(?P<task>[a-z/-]+)")
_MULTIPART_MODEL = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n(?P<value>[^\r\n]+)\r\n')
_RUNWAY_CREATE = re.compile(r"/v1/(?P<kind>[a-z_]+_to_[a-z_]+|video_upscale|character_performance)")
_RUNWAY_TASK = re.compile(r"/v1/tasks/[^/]+")


def detect_stability(method: str, path: str) -> Endpoint | None:
    if method != "POST":
        return None
    found = _V2_IMAGE.fullmatch(path)
    if found is not None:
        return Endpoint(IMAGE_GENERATION, STABILITY_IMAGE, model=_stability_model(found["name"]))
    found = _V1_IMAGE.fullmatch(path)
    if found is not None:
        return Endpoint(IMAGE_GENERATION, STABILITY_IMAGE, model=found.group("engine"))
    return None


def detect_runway(method: str, path: str) -> Endpoint | None:
    if method == "POST" and (found := _RUNWAY_CREATE.fullmatch(path)) is not None:
        if found.group("kind").endswith("_to_image"):
            return Endpoint(IMAGE_GENERATION, RUNWAY_IMAGE)
        return Endpoint(VIDEO_GENERATION, RUNWAY_VIDEO)
    if method == "GET" and _RUNWAY_TASK.fullmatch(path):
        return Endpoint(VIDEO_GENERATION, RUNWAY_TASK)
    return None


def _stability_model(name: str) -> str:
    """`generate/ultra` -> `stable-image-ultra`; `upscale/fast` -> `stable-image-upscale-fast`.

    `generate/sd3` serves several models; its multipart `model` field (default
    `sd3.5-large`) replaces this name.
    """
    group, _, variant = name.partition("/")
    if name == "generate/sd3":
        return "sd3.5-large"
    return f"stable-image-{variant}" if group == "generate" else f"stable-image-{group}-{variant}"


class StabilityImage(ServiceFormat):
    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        field = _MULTIPART_MODEL.search(body)
        model = field.group("value").decode("utf-8", "replace") if field else endpoint.model
        dimensions = {ENDPOINT: endpoint.model} if endpoint.model else {}
        return RequestFacts(model=model, body=body, dimensions=dimensions)

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        context = context_for(content_type, request, headers)
        if content_type.lower().startswith("application/json"):
            return JsonReader(self.read, context)
        return HeaderReader(lambda c, size: self._images(c, Decimal(1)), context)

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        artifacts = body.get("artifacts")  # v1
        if isinstance(artifacts, list):
            return self._images(context, Decimal(len(artifacts)))
        if "image" in body or "id" in body:  # v2beta JSON image, or an async job accepted
            return self._images(context, Decimal(1))
        return CallResult(problem="response has neither an image nor artifacts")

    def _images(self, context: Context, count: Decimal) -> CallResult:
        return metered({IMAGES: count}, dimensions=context.request.dimensions)


class RunwayTasks:
    """What the create calls told, for the polls: (model, duration, image?) by task id."""

    def __init__(self) -> None:
        self.created: Ledger[tuple[str | None, Decimal | None, bool]] = Ledger()
        self.metered: Ledger[bool] = Ledger()


class RunwayCreate(ServiceFormat):
    def __init__(self, tasks: RunwayTasks, *, image: bool) -> None:
        self.tasks = tasks
        self.image = image

    def read(self, document: object, context: Context) -> CallResult:
        task_id = text((mapping(document) or {}).get("id"))
        if task_id is None:
            return CallResult(problem="response has no task id")
        request = json_object(context.request.body) or {}
        model, duration = text(request.get("model")), quantity(request.get("duration"))
        self.tasks.created.put(task_id, (model, duration, self.image))
        return CallResult(
            model,
            task_id,
            problem="task created; metered once, when GET /v1/tasks/{id} shows SUCCEEDED",
        )


class RunwayPoll(ServiceFormat):
    def __init__(self, tasks: RunwayTasks) -> None:
        self.tasks = tasks

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        task_id, status = text(body.get("id")), text(body.get("status"))
        if task_id is None:
            return CallResult(problem="response has no task id")
        if status != "SUCCEEDED":
            return CallResult(response_id=task_id, problem=f"task is {status}; not billed yet")
        return self._succeeded(task_id, body)

    def _succeeded(self, task_id: str, body: Mapping[str, object]) -> CallResult:
        created = self.tasks.created.get(task_id)
        if created is None:
            return CallResult(
                response_id=task_id,
                problem="task SUCCEEDED, but it was not created through this proxy process: "
                "the task object does not say the model or duration billed",
            )
        model, duration, image = created
        if not self.tasks.metered.first(task_id, True):
            return CallResult(model, task_id, problem="task was already metered")
        if image:
            output = body.get("output")
            count = Decimal(len(output)) if isinstance(output, list) and output else Decimal(1)
            return metered({IMAGES: count}, model=model, response_id=task_id)
        if duration is None:
            return CallResult(model, task_id, problem="the create request did not state a duration")
        return metered({VIDEO_SECONDS: duration}, model=model, response_id=task_id)


_RUNWAY_TASKS = RunwayTasks()

DETECTORS: Final = {STABILITY: detect_stability, RUNWAY: detect_runway}
WIRE_FORMATS: Final[dict[str, ServiceFormat]] = {
    STABILITY_IMAGE: StabilityImage(),
    RUNWAY_IMAGE: RunwayCreate(_RUNWAY_TASKS, image=True),
    RUNWAY_VIDEO: RunwayCreate(_RUNWAY_TASKS, image=False),
    RUNWAY_TASK: RunwayPoll(_RUNWAY_TASKS),
}
