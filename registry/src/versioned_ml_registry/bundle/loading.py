"""Loading a released version: the bytes of that version, verified, as a predictor.

``load_version`` fetches the bundle recorded at the version's commit through DVC (cache
first, then the remote; never the working tree's files) and checks, before loading anything:

1. dvc.lock at that commit records the directory md5 the version tag recorded;
2. the ``.dir`` manifest DVC serves for it hashes to that md5 (recomputed from its entries);
3. the bytes of every bundle file hash to the md5s the manifest lists;
4. and to the sha256 the version tag recorded for that file (:mod:`.digests`; a tag released
   before sha256 was recorded has none, and loads on the md5 chain alone).

Only then is the model loaded, through its flavor (:mod:`.flavors`), trusting the registry's
reviewed skops types and exactly the types the version's tag lists (never the bundle's own
flavor.json). Classification and regression bundles load alike.
"""

from __future__ import annotations

from ..dvc.files import artifact_path_at, lock_md5s, norm_path
from ..dvc.store import dvc_dir_listing, manifest_md5, open_dvc_fs, read_dvc_file
from ..errors import RegistryError
from .contract import (
    CARD_FILE,
    FINGERPRINT_FILE,
    PROFILE_FILE,
    SIGNATURE_FILE,
    flavor_meta,
    has_probabilities,
    json_object,
    labels_of,
    load_model_blobs,
    md5_bytes,
    predict,
    predict_proba,
    task_of,
    validate_signature,
)
from .digests import check_sha256, recorded_sha256


class Predictor:
    """A loaded version: ``predict(records)`` returns one label (classification) or number
    (regression) per raw record, through the version's own fitted pipeline. ``profile``: its
    bundle's profile.json (:mod:`.profile`), None for a bundle written before profiles."""

    def __init__(self, family: str, version: str, model, signature: dict, fingerprint: dict,
                 commit: str | None = None, md5: str | None = None, flavor: str | None = None,
                 profile: dict | None = None):
        self.family = family
        self.version = version
        self.model = model
        self.signature = signature
        self.fingerprint = fingerprint
        self.task = task_of(signature)
        self.commit = commit
        self.md5 = md5
        self.flavor = flavor
        self.profile = profile
        self.has_probabilities = self.task == "classification" and has_probabilities(model)

    def __repr__(self) -> str:
        return f"Predictor({self.family}@{self.version}, {self.task})"

    def predict(self, records) -> list:
        if isinstance(records, dict):
            records = [records]
        return predict(self.model, self.signature, list(records))

    def predict_proba(self, records) -> list[list[float]]:
        """Class probabilities, one row per record, columns in :attr:`labels` order."""
        if isinstance(records, dict):
            records = [records]
        return predict_proba(self.model, self.signature, list(records))

    @property
    def labels(self) -> list[str]:
        return labels_of(self.signature)

    def matches_fingerprint(self) -> bool:
        """Whether this version's predictions on its probe set equal the recorded ones."""
        probe = self.fingerprint.get("probe") or []
        return self.predict(probe) == list(self.fingerprint.get("predictions") or [])


def _verified_files(repo: str, label: str, commit: str, bundle_path: str, recorded_md5: str,
                    sha256: dict | None) -> dict:
    locked = lock_md5s(repo, bundle_path, rev=commit)["md5"][bundle_path]
    if locked != recorded_md5:
        raise RegistryError(f"{label}: dvc.lock at {commit[:7]} records {locked} for {bundle_path}, "
                            f"the version tag recorded {recorded_md5}")
    fs = open_dvc_fs(repo, commit)
    try:
        dir_md5, files = dvc_dir_listing(fs, bundle_path)
        if dir_md5 != recorded_md5:
            raise RegistryError(f"{label}: DVC serves {dir_md5} for {bundle_path}, expected {recorded_md5}")
        if manifest_md5(files) != recorded_md5:
            raise RegistryError(f"{label}: the .dir manifest of {bundle_path} does not hash "
                                f"to {recorded_md5}; the DVC cache or remote is corrupt")
        blobs = {}
        for name in (SIGNATURE_FILE, FINGERPRINT_FILE):
            if name not in files:
                raise RegistryError(f"{label}: bundle {bundle_path} has no {name}")
        for name in sorted(files):
            if name == CARD_FILE:
                continue
            data = read_dvc_file(fs, f"{bundle_path}/{name}")
            if md5_bytes(data) != files[name]:
                raise RegistryError(f"{label}: {bundle_path}/{name} has md5 {md5_bytes(data)}, the .dir "
                                    f"manifest lists {files[name]}; refusing to load it")
            check_sha256(label, bundle_path, name, data, sha256)
            blobs[name] = data
        return blobs
    finally:
        fs.close()


def load_version(repo, family: str, version: str, commit: str, bundle_path: str,
                 recorded_md5: str, trusted_types=(), sha256: dict | None = None) -> Predictor:
    """The bundle of ``family`` ``version`` at ``commit``, verified against ``recorded_md5`` and
    ``sha256`` (``{file: sha256}`` its tag records; None: an older tag, md5 only);
    ``trusted_types``: the reviewed skops types its version tag lists."""
    label = f"{family} {version}"
    blobs = _verified_files(str(repo), label, commit, norm_path(bundle_path), recorded_md5, sha256)
    signature = validate_signature(json_object(blobs[SIGNATURE_FILE], f"{label}: {SIGNATURE_FILE}"), f"{label}: {SIGNATURE_FILE}")
    fingerprint = json_object(blobs[FINGERPRINT_FILE], f"{label}: {FINGERPRINT_FILE}")
    model = load_model_blobs(blobs, f"{label}: {bundle_path}", trusted_types, signature)
    flavor = flavor_meta(blobs, label)["flavor"]
    profile = json_object(blobs[PROFILE_FILE], f"{label}: {PROFILE_FILE}") if PROFILE_FILE in blobs else None
    return Predictor(family, version, model, signature, fingerprint, commit=commit, md5=recorded_md5, flavor=flavor,
                     profile=profile)


def recorded_trust(info) -> list[str]:
    """The skops types beyond the registry's list that a version's tag says were reviewed."""
    flavor = info.meta.get("flavor")
    types = flavor.get("trusted_types") if isinstance(flavor, dict) else None
    return [str(name) for name in types] if isinstance(types, list) else []


def recorded_bundle(toplevel: str, info) -> tuple:
    """(bundle path, its md5) as the version's tag recorded them; for a version registered by
    GTO, which records none, from dvc.yaml's ``artifacts:`` and dvc.lock at its commit."""
    md5s = info.meta.get("md5")
    if isinstance(info.meta.get("path"), str) and isinstance(md5s, dict) and md5s.get(info.meta["path"]):
        return info.meta["path"], md5s[info.meta["path"]]
    try:
        path = artifact_path_at(toplevel, info.family, info.commit)
        return path, lock_md5s(toplevel, path, rev=info.commit)["md5"][path]
    except RegistryError as error:
        raise RegistryError(f"{info.tag} records no artifact (a GTO-registered version?) and {error}: "
                            "release that commit with model-registry to serve it") from None


def load_released(repo, family: str, stage: str | None = "production",
                  version: str | None = None) -> Predictor:
    """The predictor of ``version``, or of the version holding ``stage``, through the verified
    path; ``repo`` is the registry's view of the git repository (:class:`..tags.repo.Repo`)."""
    fam = repo.family(family)
    if version is None:
        version = fam.holder_version(repo.stage(stage))
        if version is None:
            raise RegistryError(f"no version of {family} holds {stage}")
    info = repo.version(fam, version)
    path, recorded = recorded_bundle(repo.toplevel, info)
    return load_version(repo.toplevel, family, info.vstring, info.commit, path, recorded, recorded_trust(info),
                        recorded_sha256(info.meta, f"{family} {info.vstring}"))


def load_for_serving(repo, family: str, version: str) -> Predictor:
    """``version`` through the verified path, then the proof that the loaded model still answers
    its probe set as its fingerprint says: what the server loads before it takes traffic."""
    predictor = load_released(repo, family, version=version)
    if not (predictor.fingerprint.get("probe") or []):
        raise RegistryError(f"{family} {version}: its bundle has no probe set to prove its behaviour with")
    if not predictor.matches_fingerprint():
        raise RegistryError(f"{family} {version}: its predictions on its probe set differ from the "
                            "fingerprint in its bundle; refusing to serve it")
    return predictor
