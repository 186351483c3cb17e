"""The model bundle: its contract (:mod:`.contract`), reading a bundle at a commit
(:mod:`.reading`), verified loading (:mod:`.loading`) and skops files made byte-stable
(:mod:`.skops_bytes`).

The names below are the contract a project's pipeline imports, as in
``from versioned_ml_registry.bundle import save_model``.
"""

from .contract import (
    CARD_FILE,
    FILES,
    FINGERPRINT_FILE,
    JSON_FILES,
    MODEL_FILE,
    OUTPUT_TYPES,
    SIGNATURE_FILE,
    TASKS,
    TRUSTED_TYPES,
    fingerprint,
    input_kind,
    json_object,
    load_model_bytes,
    load_model_file,
    make_signature,
    md5_bytes,
    md5_file,
    predict,
    records_to_matrix,
    save_model,
    task_of,
    typed_records,
    validate_signature,
    write_bundle,
    write_json,
)

__all__ = [
    "CARD_FILE",
    "FILES",
    "FINGERPRINT_FILE",
    "JSON_FILES",
    "MODEL_FILE",
    "OUTPUT_TYPES",
    "SIGNATURE_FILE",
    "TASKS",
    "TRUSTED_TYPES",
    "fingerprint",
    "input_kind",
    "json_object",
    "load_model_bytes",
    "load_model_file",
    "make_signature",
    "md5_bytes",
    "md5_file",
    "predict",
    "records_to_matrix",
    "save_model",
    "task_of",
    "typed_records",
    "validate_signature",
    "write_bundle",
    "write_json",
]
