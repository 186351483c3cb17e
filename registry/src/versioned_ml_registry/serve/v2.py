"""The Open Inference Protocol (the "V2" protocol of KServe, Triton and MLServer), REST, in
terms of a family's signature. Pure data: :mod:`.app` routes the requests, :mod:`.validation`
checks the records this module builds.

A tabular request is one input per signature column, each of shape ``[N]`` (or ``[N, 1]``),
``BYTES`` for categorical and text columns, a number type (``FP64``, ``INT64``, ...) for numeric
ones; row ``i`` of every input makes record ``i``, as MLServer's pandas codec and KServe's
``InferRequest.as_dataframe()`` read it. An optional input that is left out is missing in every
record. Outputs are ``predict`` (labels as ``BYTES``, numbers as ``FP64``) and, for a classifier
that has them, ``predict_proba`` (``FP64``, shape ``[N, labels]``, columns in the signature's
label order); without ``outputs`` a request gets ``predict``.

Every refusal is :class:`BadRequest`: one line, answered 400 ``{"error": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from ..bundle.contract import NUMERIC, input_kind, labels_of, task_of
from .validation import Invalid, Limits, quote

PROTOCOL = "v2"
PLATFORM = "versioned-ml-registry"
NUMBER_TYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                "FP16", "FP32", "FP64")
DATATYPES = NUMBER_TYPES + ("BYTES",)
PREDICT, PREDICT_PROBA = "predict", "predict_proba"
MAX_ID = 128  # characters of a client's request id


class BadRequest(Invalid):
    """A malformed V2 request: the protocol answers 400 with one line."""

    def __init__(self, message: str):
        super().__init__([{"record": None, "field": None, "error": message}])


@dataclass(frozen=True)
class InferRequest:
    """A decoded request: its id (the client's, if it sent one), the records, the outputs asked for."""

    id: Optional[str]
    records: List[dict]
    outputs: List[str]


def datatype_of(spec: dict) -> str:
    return "FP64" if input_kind(spec) == NUMERIC else "BYTES"


def outputs_of(signature: dict, probabilities: bool) -> List[dict]:
    """The outputs a version gives, as V2 tensor metadata."""
    task = task_of(signature)
    found = [{"name": PREDICT, "datatype": "BYTES" if task == "classification" else "FP64", "shape": [-1]}]
    if probabilities:
        found.append({"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, len(labels_of(signature))]})
    return found


def model_metadata(family: str, versions: List[str], signature: dict, probabilities: bool) -> dict:
    """``GET /v2/models/{family}[/versions/{version}]``: inputs and outputs from the signature."""
    inputs = [{"name": spec["name"], "datatype": datatype_of(spec), "shape": [-1],
               "parameters": {"kind": input_kind(spec), "required": bool(spec.get("required", True))}}
              for spec in signature["inputs"]]
    meta = {"name": family, "versions": versions, "platform": PLATFORM, "inputs": inputs,
            "outputs": outputs_of(signature, probabilities)}
    labels = labels_of(signature)
    if labels:
        meta["parameters"] = {"labels": labels}
    return meta


def _flat(data: Any) -> list:
    """Row-major flattening of nested lists (the protocol allows both forms)."""
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(item, list) for item in data):
        return data
    found = []
    for item in data:
        found.extend(_flat(item))
    return found


def _rows(tensor: dict) -> int:
    """N of a tensor of shape [N] or [N, 1]."""
    shape = tensor.get("shape")
    name = quote(tensor["name"])
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
            or (len(shape) == 2 and shape[1] != 1)):
        raise BadRequest(f"input {name}: shape must be [N] or [N, 1] (one column), got {quote(shape)}")
    return shape[0]


def _value(spec: dict, datatype: str, value: Any, name: str):
    """One element, as the record holds it (validation checks it against the signature)."""
    numeric = input_kind(spec) == NUMERIC
    if datatype == "BYTES":
        if numeric:
            raise BadRequest(f"input {name} is numeric: send a number datatype (FP64, INT64, ...), not BYTES")
        if not isinstance(value, str):
            raise BadRequest(f"input {name}: BYTES data must be strings, got {quote(value)}")
        return value
    if not numeric:
        raise BadRequest(f"input {name} is {input_kind(spec)}: send BYTES, not {datatype}")
    if datatype == "BOOL":
        raise BadRequest(f"input {name} is numeric: send a number datatype (FP64, INT64, ...), not BOOL")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"input {name}: {datatype} data must be numbers, got {quote(value)}")
    return value


def _parameters(part: dict, where: str) -> dict:
    found = part.get("parameters")
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise BadRequest(f'{where}: "parameters" must be an object')
    return found


def _request_id(body: dict) -> Optional[str]:
    found = body.get("id")
    if found is None:
        return None
    if not isinstance(found, str) or not found or len(found) > MAX_ID or not found.isprintable():
        raise BadRequest(f'"id" must be a printable string of 1 to {MAX_ID} characters')
    return found


def _outputs(body: dict, signature: dict, probabilities: bool) -> List[str]:
    asked = body.get("outputs")
    if asked is None:
        return [PREDICT]
    if not isinstance(asked, list) or not asked:
        raise BadRequest('"outputs" must be a non-empty list of {"name": ...}')
    offered = [out["name"] for out in outputs_of(signature, probabilities)]
    names = []
    for out in asked:
        name = out.get("name") if isinstance(out, dict) else None
        if name not in offered:
            raise BadRequest(f"unknown output {quote(name)}: this version gives {', '.join(offered)}")
        if _parameters(out, f"output {name}").get("binary_data"):
            raise BadRequest(f"output {name}: binary data is not supported: ask for JSON (binary_data false)")
        if name in names:
            raise BadRequest(f"output {name} is asked for twice")
        names.append(name)
    return names


def decode_infer(body: Any, signature: dict, probabilities: bool, limits: Limits = Limits()) -> InferRequest:
    """The records of a ``POST .../infer`` body; :class:`BadRequest` for any malformed part."""
    if not isinstance(body, dict):
        raise BadRequest('send an inference request: {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    unknown = sorted(set(body) - {"id", "inputs", "outputs", "parameters"})
    if unknown:
        raise BadRequest(f"unexpected keys: {', '.join(map(quote, unknown[:5]))}")
    request_id = _request_id(body)
    _parameters(body, "the request")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest('"inputs" must be a non-empty list of tensors')
    specs = {spec["name"]: spec for spec in signature["inputs"]}
    columns, rows = {}, None
    for tensor in inputs:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise BadRequest('each input is an object with "name", "shape", "datatype" and "data"')
        name = quote(tensor["name"])
        if tensor["name"] not in specs:
            raise BadRequest(f"unknown input {name}: the inputs are {', '.join(map(quote, list(specs)[:20]))}")
        if tensor["name"] in columns:
            raise BadRequest(f"input {name} is given twice")
        datatype = tensor.get("datatype")
        if datatype not in DATATYPES:
            raise BadRequest(f"input {name}: unknown datatype {quote(datatype)}")
        if _parameters(tensor, f"input {name}").get("binary_data_size") is not None:
            raise BadRequest(f"input {name}: binary data is not supported: send JSON data (binary_data false)")
        n = _rows(tensor)
        if n > limits.max_records:
            raise BadRequest(f"input {name}: {n} rows is over the limit of {limits.max_records}")
        if rows is not None and n != rows:
            raise BadRequest(f"input {name} has {n} rows, the inputs before it {rows}: every input needs the same N")
        rows = n
        data = _flat(tensor.get("data"))
        if len(data) != n:
            raise BadRequest(f"input {name}: shape {quote(tensor['shape'])} needs {n} values, data holds {len(data)}")
        spec = specs[tensor["name"]]
        columns[tensor["name"]] = [_value(spec, datatype, value, name) for value in data]
    missing = [name for name, spec in specs.items() if name not in columns and spec.get("required", True)]
    if missing:
        raise BadRequest(f"missing input {quote(missing[0])}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if not rows:
        raise BadRequest("no rows: send N of at least 1")
    records = [{name: column[i] for name, column in columns.items()} for i in range(rows)]
    return InferRequest(request_id, records, _outputs(body, signature, probabilities))


def encode_infer(family: str, version: str, request_id: str, outputs: List[str], predictions: list,
                 probabilities: Optional[List[List[float]]] = None) -> dict:
    """The response of ``POST .../infer``."""
    tensors = []
    for name in outputs:
        if name == PREDICT:
            datatype = "FP64" if predictions and isinstance(predictions[0], float) else "BYTES"
            tensors.append({"name": PREDICT, "datatype": datatype, "shape": [len(predictions)], "data": predictions})
        else:
            width = len(probabilities[0]) if probabilities else 0
            tensors.append({"name": PREDICT_PROBA, "datatype": "FP64", "shape": [len(probabilities), width],
                            "data": [p for row in probabilities for p in row]})
    return {"model_name": family, "model_version": version, "id": request_id, "outputs": tensors}
