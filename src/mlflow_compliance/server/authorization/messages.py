"""JSON bodies in the one spelling MLflow's protobuf messages name, as MLflow reads them.

MLflow's handlers read a JSON body with protobuf's ``ParseDict``, which takes each
field by its name (``run_id``) or by its JSON name (``runId``), at every level of the
message, and refuses a body that gives both. The request messages are found the way
MLflow registers its routes (each service's ``rpc`` endpoints), so nothing is guessed:
a key is renamed only where the message has a field whose JSON name it is. The body
MLflow then receives is the renamed one, so every layer and MLflow read the same
fields. Map fields and protobuf's well-known types (a ``Value``'s JSON) keep the
caller's keys; unknown keys are left as they are (MLflow ignores them).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor


@functools.cache
def _messages() -> dict[tuple[str, str], Descriptor]:
    """(method, route path as the route table writes it) -> request message."""
    from mlflow.protos import databricks_pb2
    from mlflow.server.handlers import MlflowService, ModelRegistryService, WebhookService

    found: dict[tuple[str, str], Descriptor] = {}
    # Not MlflowArtifactsService: an upload's body is the file, not a message.
    for service in (MlflowService, ModelRegistryService, WebhookService):
        for method in service.DESCRIPTOR.methods:
            for endpoint in method.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                path = re.sub(r"\{assessment\.(\w+)\}", r"{\1}", endpoint.path)
                path = re.sub(r"<path:(\w+)>", r"{\1:path}", path)
                route = f"/api/{endpoint.since.major}.0{path}"
                found[(endpoint.method, route)] = method.input_type
    return found


def message_of(method: str, route_path: str) -> Descriptor | None:
    """The protobuf request message MLflow parses this route's body into, if any."""
    return _messages().get((method, route_path))


def canonical(message: Descriptor, body: Any, where: str = "") -> tuple[Any, str | None]:
    """``body`` with every field in its name's spelling, and None; or the body and why it
    cannot be read one way (a field given in both spellings), naming the field."""
    if not isinstance(body, dict):
        return body, None
    out: dict[str, Any] = {}
    for key, value in body.items():
        field = message.fields_by_camelcase_name.get(key) if isinstance(key, str) else None
        if field is None or field.json_name != key:
            field = message.fields_by_name.get(key) if isinstance(key, str) else None
        name = field.name if field is not None else key
        if name in out:
            return body, f"{where}{name}: given twice, spelled two ways; give it once"
        if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE and not (
            field.message_type.GetOptions().map_entry
            # Struct, Value, Any, Timestamp...: their JSON is the caller's own, not fields
            or field.message_type.full_name.startswith("google.protobuf.")
        ):
            inner = f"{where}{name}."
            if field.is_repeated and isinstance(value, list):
                items = []
                for item in value:
                    fixed, problem = canonical(field.message_type, item, inner)
                    if problem:
                        return body, problem
                    items.append(fixed)
                value = items
            else:
                value, problem = canonical(field.message_type, value, inner)
                if problem:
                    return body, problem
        out[name] = value
    return out, None
