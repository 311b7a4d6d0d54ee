"""AWS Polly (speech), Transcribe (transcription jobs) and Rekognition (image and video analysis).

- Polly `SynthesizeSpeech` (`POST /v1/speech`, https://docs.aws.amazon.com/polly/latest/dg/API_SynthesizeSpeech.html):
  audio body; the characters billed are in the `x-amzn-RequestCharacters` response header
  (`RequestCharacters` in the API model), the voice engine in the request `Engine`
  (`standard` when absent). Async tasks: `GET /v1/synthesisTasks/{id}` once `completed`
  carries `SynthesisTask.RequestCharacters`; metered once per task.
- Transcribe (`awsJson1_1`, `X-Amz-Target: Transcribe.GetTranscriptionJob`,
  https://docs.aws.amazon.com/transcribe/latest/APIReference/API_TranscriptionJob.html): the
  `TranscriptionJob` has no media duration, so a COMPLETED job is reported as not priceable.
- Rekognition (`X-Amz-Target: RekognitionService.<Op>`): each image operation bills one image
  (https://aws.amazon.com/rekognition/pricing/); video `Get*` results that SUCCEEDED carry
  `VideoMetadata.DurationMillis`, metered once per `JobId` as `video_seconds`.
  Price models: `image` and `video` (the wire names no model); Polly's model is its engine.

JSON-protocol calls all POST to `/`: the Transcribe and Rekognition detectors read the
operation from the `X-Amz-Target` request header (`HEADER_DETECTORS`), and only when a client
sends none do the formats infer it from the request and response bodies.
Errors: `error.type` is the AWS error code (`x-amzn-errortype`, else the body's `__type`/`code`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from proxy.providers.base import Endpoint, HeaderDetector, Provider, RequestFacts, RequestHeaders
from proxy.providers.result import CallResult, ResponseReader, mapping, text
from proxy.providers.services import _aws
from proxy.providers.services._common import (
    CHARACTERS,
    ENDPOINT,
    ENGINE,
    IMAGES,
    VIDEO_SECONDS,
    Context,
    HeaderReader,
    Ledger,
    ServiceFormat,
    context_for,
    header_count,
    json_object,
    metered,
    quantity,
)
from semconv import GenAiOperationNameValues

TEXT_TO_SPEECH: Final = GenAiOperationNameValues.TEXT_TO_SPEECH
SPEECH_TO_TEXT: Final = GenAiOperationNameValues.SPEECH_TO_TEXT
IMAGE_ANALYSIS: Final = GenAiOperationNameValues.IMAGE_ANALYSIS

POLLY_SPEECH: Final = "aws_polly_speech"
POLLY_TASK: Final = "aws_polly_task"
TRANSCRIBE_JOB: Final = "aws_transcribe_job"
REKOGNITION: Final = "aws_rekognition"

PROVIDERS: Final = (
    Provider(_aws.POLLY, _aws.HOSTS[_aws.POLLY], "https://polly.us-east-1.amazonaws.com", "polly"),
    Provider(
        _aws.TRANSCRIBE,
        _aws.HOSTS[_aws.TRANSCRIBE],
        "https://transcribe.us-east-1.amazonaws.com",
        "transcribe",
    ),
    Provider(
        _aws.REKOGNITION,
        _aws.HOSTS[_aws.REKOGNITION],
        "https://rekognition.us-east-1.amazonaws.com",
        "rekognition",
    ),
)

# Response member -> image operation, for calls whose X-Amz-Target is not visible.
IMAGE_OPERATIONS: Final = {
    "Labels": "DetectLabels",
    "FaceDetails": "DetectFaces",
    "TextDetections": "DetectText",
    "ModerationLabels": "DetectModerationLabels",
    "CelebrityFaces": "RecognizeCelebrities",
    "SourceImageFace": "CompareFaces",
    "SearchedFaceBoundingBox": "SearchFacesByImage",
    "FaceRecords": "IndexFaces",
    "Persons": "DetectProtectiveEquipment",
    "CustomLabels": "DetectCustomLabels",
    "SearchedFace": "SearchUsersByImage",
}
VIDEO_RESULTS: Final = frozenset(
    {
        "GetLabelDetection",
        "GetFaceDetection",
        "GetContentModeration",
        "GetPersonTracking",
        "GetCelebrityRecognition",
        "GetFaceSearch",
        "GetSegmentDetection",
        "GetTextDetection",
    }
)
VIDEO_ANALYSIS: Final = "VideoAnalysis"
"""The operation name when a video result is recognised from its body alone."""
_TRANSCRIBE_JOBS: Final = {
    "GetTranscriptionJob": "TranscriptionJob",
    "GetMedicalTranscriptionJob": "MedicalTranscriptionJob",
    "GetCallAnalyticsJob": "CallAnalyticsJob",
}


def detect_polly(method: str, path: str) -> Endpoint | None:
    if method == "POST" and path == "/v1/speech":
        return Endpoint(TEXT_TO_SPEECH, POLLY_SPEECH)
    if method == "GET" and path.startswith("/v1/synthesisTasks/"):
        return Endpoint(TEXT_TO_SPEECH, POLLY_TASK)
    return None


def detect_transcribe(method: str, path: str, headers: RequestHeaders) -> Endpoint | None:
    if method != "POST" or path != "/":
        return None
    operation = _aws.target_operation(headers, "Transcribe")
    if operation is not None and operation not in _TRANSCRIBE_JOBS:
        return None  # Start*, List*, Delete*: nothing billed on the wire
    return Endpoint(SPEECH_TO_TEXT, TRANSCRIBE_JOB)


def detect_rekognition(method: str, path: str, headers: RequestHeaders) -> Endpoint | None:
    if method != "POST" or path != "/":
        return None
    operation = _aws.target_operation(headers, "RekognitionService")
    if operation is None:
        return Endpoint(IMAGE_ANALYSIS, REKOGNITION)
    if operation in IMAGE_OPERATIONS.values() or operation in VIDEO_RESULTS:
        return Endpoint(IMAGE_ANALYSIS, f"{REKOGNITION}.{operation}")
    return None


class PollySpeech(_aws.AwsErrors, ServiceFormat):
    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        request = json_object(body) or {}
        engine = text(request.get("Engine")) or "standard"  # the API's default engine
        return RequestFacts(model=engine, body=body, dimensions={ENGINE: engine})

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return HeaderReader(self._read_headers, context_for(content_type, request, headers))

    def _read_headers(self, context: Context, size: int) -> CallResult:
        found = header_count(context, "x-amzn-RequestCharacters")
        if found is None:
            return CallResult(problem="response has no x-amzn-RequestCharacters header")
        return metered({CHARACTERS: found[1]}, dimensions=context.request.dimensions)


class PollyTask(_aws.AwsErrors, ServiceFormat):
    def __init__(self) -> None:
        self.ledger: Ledger[bool] = Ledger()

    def read(self, document: object, context: Context) -> CallResult:
        task = mapping((mapping(document) or {}).get("SynthesisTask")) or {}
        task_id, status = text(task.get("TaskId")), text(task.get("TaskStatus"))
        if status != "completed" or task_id is None:
            return CallResult(problem=f"synthesis task is {status or 'unknown'}; not billed yet")
        characters = quantity(task.get("RequestCharacters"))
        if characters is None:
            return CallResult(problem="completed synthesis task has no RequestCharacters")
        if not self.ledger.first(task_id, True):
            return CallResult(problem=f"synthesis task {task_id} was already metered")
        engine = text(task.get("Engine")) or "standard"
        return metered(
            {CHARACTERS: characters}, dimensions={ENGINE: engine}, model=engine, response_id=task_id
        )


class TranscribeJob(_aws.AwsErrors, ServiceFormat):
    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        job = next((mapping(body.get(k)) for k in _TRANSCRIBE_JOBS.values() if k in body), None)
        if job is None:
            return CallResult(problem="not a transcription job response; nothing billed")
        name = text(job.get("TranscriptionJobName")) or text(job.get("CallAnalyticsJobName"))
        name = name or text(job.get("MedicalTranscriptionJobName"))
        status = text(job.get("TranscriptionJobStatus")) or text(job.get("CallAnalyticsJobStatus"))
        if status != "COMPLETED":
            return CallResult(response_id=name, problem=f"job is {status}; not billed yet")
        return CallResult(
            response_id=name,
            problem="job COMPLETED, but Transcribe does not report the media duration it bills "
            "(per second of audio); configure a per-request price to count these calls",
        )


class RekognitionCall(_aws.AwsErrors, ServiceFormat):
    def __init__(self, operation: str | None = None) -> None:
        self.operation = operation
        self.ledger: Ledger[bool] = Ledger()

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        request = json_object(context.request.body) or {}
        operation = self.operation or _infer_operation(request, body)
        if operation is None:
            return CallResult(problem="not an image or video analysis result; nothing billed")
        if operation not in VIDEO_RESULTS and operation != VIDEO_ANALYSIS:
            return metered({IMAGES: Decimal(1)}, dimensions={ENDPOINT: operation}, model="image")
        return self._video(operation, text(request.get("JobId")), body)

    def _video(self, operation: str, job_id: str | None, body: Mapping[str, object]) -> CallResult:
        status = text(body.get("JobStatus"))
        if status != "SUCCEEDED" or job_id is None:
            return CallResult(problem=f"video job is {status}; not billed yet")
        metadata = body.get("VideoMetadata")
        items = metadata if isinstance(metadata, list) else [metadata]
        durations = [quantity((mapping(i) or {}).get("DurationMillis")) for i in items]
        millis = max((d for d in durations if d is not None), default=None)
        if millis is None:
            return CallResult(problem="video result has no VideoMetadata.DurationMillis")
        if not self.ledger.first(job_id, True):
            return CallResult(problem=f"video job {job_id} was already metered")
        seconds = millis / Decimal(1000)
        return metered(
            {VIDEO_SECONDS: seconds},
            dimensions={ENDPOINT: operation},
            model="video",
            response_id=job_id,
        )


def _infer_operation(request: Mapping[str, object], body: Mapping[str, object]) -> str | None:
    if "JobId" in request and "JobStatus" in body:
        return VIDEO_ANALYSIS
    if not any(key in request for key in ("Image", "SourceImage", "TargetImage")):
        return None
    return next((op for member, op in IMAGE_OPERATIONS.items() if member in body), "ImageAPI")


DETECTORS: Final = {_aws.POLLY: detect_polly}

HEADER_DETECTORS: Final[dict[str, HeaderDetector]] = {
    _aws.TRANSCRIBE: detect_transcribe,
    _aws.REKOGNITION: detect_rekognition,
}

WIRE_FORMATS: Final[dict[str, ServiceFormat]] = {
    POLLY_SPEECH: PollySpeech(),
    POLLY_TASK: PollyTask(),
    TRANSCRIBE_JOB: TranscribeJob(),
    REKOGNITION: RekognitionCall(),
    **{
        f"{REKOGNITION}.{op}": RekognitionCall(op)
        for op in (*IMAGE_OPERATIONS.values(), *VIDEO_RESULTS)
    },
}
