"""The traces an OpenTelemetry (OTLP) span export writes into, read as MLflow reads them.

MLflow's ``/v1/traces`` logs the spans into the experiment its ``x-mlflow-experiment-id``
header names, but a span of a trace that already exists joins that trace, in the
trace's own experiment; the ``x-mlflow-run-id`` header links the finished traces to a
run. So the export needs edit on the header's experiment, on the run, and on every
existing trace its spans name. The body is decoded with MLflow's own functions
(``otel_api``: decompression, protobuf or OTLP JSON, ``Span.from_otel_proto``), so the
trace ids are the ones MLflow will write to; a body MLflow could not read is left for
MLflow to refuse (it then writes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping


def trace_ids(headers: Mapping[str, str], raw: bytes) -> list[str] | None:
    """The trace ids the spans in ``raw`` belong to; None when MLflow cannot read it."""
    from google.protobuf.json_format import Parse as ParseJsonProto
    from mlflow.entities.span import Span
    from mlflow.server.otel_api import _convert_otlp_json_ids_to_base64
    from mlflow.tracing.utils.otlp import decompress_otlp_body
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    content_type = headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip()
    try:
        body = raw
        if encoding := headers.get("content-encoding"):
            body = decompress_otlp_body(body, encoding.lower())
        request = ExportTraceServiceRequest()
        if media_type == "application/json":
            ParseJsonProto(_convert_otlp_json_ids_to_base64(body), request,
                           ignore_unknown_fields=True)
        elif media_type == "application/x-protobuf":
            request.ParseFromString(body)
        else:
            return None
        found: list[str] = []
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    trace_id = Span.from_otel_proto(span, resource=resource_spans.resource)
                    if trace_id.trace_id not in found:
                        found.append(trace_id.trace_id)
        return found
    except Exception:  # anything MLflow's own reading would refuse (400/422)
        return None
