"""The registry state, derived only from tags (no unassign tags exist).

* holder of a stage   = version of the stage's newest tag by tagger time; same-second ties
                        go to the tag name that sorts last (as ``dvc artifacts get`` does).
* status of a version = its newest stage tag.
* candidate / shadow / deprecated / archived list the versions whose status they are.
* a canary is live while holder(canary) != holder(production).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

import semver

from .errors import RegistryError
from .gitrefs import TagRecord
from .tags import DEFAULT_STAGES, StageTagName, VersionTagName, parse_tag

LISTED_STAGES = ("candidate", "shadow", "deprecated", "archived")
SERVED_STAGES = ("staging", "canary", "production")


def parse_annotation(message: str) -> dict:
    """The YAML after the first line of a tag message ({} if absent or not YAML)."""
    first, _, rest = message.partition("\n")
    if not rest.strip():
        return {}
    import yaml

    try:
        data = yaml.load(rest, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def iso(ts: int) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Annotated:
    """A tag record whose message carries the registry's YAML (who, why, provenance)."""

    message: str
    tagger: str
    _meta: Optional[dict]

    @property
    def meta(self) -> dict:
        if self._meta is None:
            self._meta = parse_annotation(self.message)
        return self._meta

    @property
    def by(self) -> str:
        return str(self.meta.get("by") or self.tagger)


@dataclass
class VersionInfo(Annotated):
    family: str
    version: "semver.Version"
    tag: str
    commit: str
    time: int
    tagger: str
    message: str
    _meta: Optional[dict] = None

    @property
    def vstring(self) -> str:
        return "v" + str(self.version)

    @property
    def bundle_path(self) -> str:
        """The artifact path the release recorded; tags not written by `release` have none."""
        path = self.meta.get("path")
        if not path:
            raise RegistryError(f"{self.tag} records no artifact path: it was not written by model-registry release")
        return path


@dataclass
class StageEvent(Annotated):
    family: str
    stage: str
    counter: int
    tag: str
    commit: str
    version: Optional[str]  # "v1.2.3", or None when no version tag points at the commit
    time: int
    tagger: str
    message: str
    _meta: Optional[dict] = None

    @property
    def key(self):
        return (self.time, self.tag)

    @property
    def label(self) -> str:
        return self.version or f"commit:{self.commit[:12]}"


@dataclass
class FamilyState:
    name: str
    versions: Dict[str, VersionInfo] = field(default_factory=dict)
    events: List[StageEvent] = field(default_factory=list)  # sorted oldest -> newest
    _status: Optional[dict] = field(default=None, repr=False)
    _sorted: Optional[list] = field(default=None, repr=False)

    # ---- versions -------------------------------------------------------------------
    def sorted_versions(self) -> List[VersionInfo]:
        """SemVer order (fast key; pre-releases, which we never write, sort before the
        release and among themselves by their text)."""
        if self._sorted is None or len(self._sorted) != len(self.versions):
            def key(info):
                v = info.version
                return (v.major, v.minor, v.patch, v.prerelease is None, v.prerelease or "")
            self._sorted = sorted(self.versions.values(), key=key)
        return self._sorted

    def highest(self) -> Optional[VersionInfo]:
        vs = self.sorted_versions()
        return vs[-1] if vs else None

    def version_at(self, commit: str) -> Optional[VersionInfo]:
        at = [v for v in self.versions.values() if v.commit == commit]
        return max(at, key=lambda v: v.version) if at else None

    def get(self, vstring: str) -> Optional[VersionInfo]:
        return self.versions.get(vstring)

    # ---- stages ---------------------------------------------------------------------
    def newest_event(self, stage: str) -> Optional[StageEvent]:
        for ev in reversed(self.events):
            if ev.stage == stage:
                return ev
        return None

    def holder(self, stage: str) -> Optional[str]:
        ev = self.newest_event(stage)
        return ev.label if ev else None

    def status_event(self, vstring: str) -> Optional[StageEvent]:
        if self._status is None:
            self._status = {}
            for ev in self.events:  # oldest -> newest: the last one wins
                if ev.version is not None:
                    self._status[ev.version] = ev
        return self._status.get(vstring)

    def status(self, vstring: str) -> Optional[str]:
        ev = self.status_event(vstring)
        return ev.stage if ev else None

    def listing(self, stage: str) -> List[str]:
        out = [v.vstring for v in self.sorted_versions() if self.status(v.vstring) == stage]
        return out

    def held(self, vstring: str, stage: str) -> bool:
        return any(ev.version == vstring and ev.stage == stage for ev in self.events)

    def holders_sequence(self, stage: str) -> List[StageEvent]:
        return [ev for ev in self.events if ev.stage == stage]

    @property
    def canary_live(self) -> bool:
        c = self.holder("canary")
        return c is not None and c != self.holder("production")

    @property
    def next_counter(self) -> int:
        return 1 + max((ev.counter for ev in self.events), default=0)

    @property
    def last_time(self) -> int:
        times = [v.time for v in self.versions.values()] + [e.time for e in self.events]
        return max(times, default=0)

    # ---- reports --------------------------------------------------------------------
    def summary(self, stages: Iterable[str] = DEFAULT_STAGES) -> dict:
        highest = self.highest()
        stages = list(stages)
        return {
            "family": self.name,
            "latest": highest.vstring if highest else None,
            "versions": [v.vstring for v in self.sorted_versions()],
            "holders": {s: self.holder(s) for s in SERVED_STAGES if s in stages},
            "lists": {s: self.listing(s) for s in LISTED_STAGES if s in stages},
            "canary_live": self.canary_live,
            "status": {v.vstring: self.status(v.vstring) for v in self.sorted_versions()},
        }

    def history(self) -> List[dict]:
        rows = []
        for v in self.versions.values():
            m = v.meta
            rows.append({
                "time": v.time, "when": iso(v.time), "tag": v.tag, "event": "release",
                "family": self.name, "version": v.vstring, "stage": None, "from_stage": None,
                "by": v.by, "bump": m.get("bump"),
                "reason": "; ".join(str(r) for r in (m.get("reasons") or [])) or None,
                "forced": m.get("forced"), "commit": v.commit,
            })
        for ev in self.events:
            m = ev.meta
            rows.append({
                "time": ev.time, "when": iso(ev.time), "tag": ev.tag,
                "event": m.get("event") or "assign", "family": self.name,
                "version": ev.label, "stage": ev.stage, "from_stage": m.get("from_stage"),
                "by": ev.by, "reason": m.get("reason"), "forced": m.get("forced"),
                "commit": ev.commit,
            })
        # version tag before the stage tag written with it when times tie
        rows.sort(key=lambda r: (r["time"], r["stage"] is not None, r["tag"]))
        return rows


class RegistryState:
    """All families, built from the tag records of one ``for-each-ref`` call."""

    def __init__(self, records: Iterable[TagRecord], stages=DEFAULT_STAGES):
        self.stages = tuple(stages)
        self.families: Dict[str, FamilyState] = {}
        stage_records = []
        for rec in records:
            parsed = parse_tag(rec.name)
            if isinstance(parsed, VersionTagName):
                fam = self._family(parsed.family)
                fam.versions[parsed.vstring] = VersionInfo(
                    parsed.family, parsed.version, rec.name, rec.commit, rec.time,
                    f"{rec.tagger_name} <{rec.tagger_email}>", rec.message,
                )
            elif isinstance(parsed, StageTagName):
                stage_records.append((parsed, rec))
        for parsed, rec in stage_records:
            fam = self._family(parsed.family)
            v = fam.version_at(rec.commit)
            fam.events.append(StageEvent(
                parsed.family, parsed.stage, parsed.counter, rec.name, rec.commit,
                v.vstring if v else None, rec.time,
                f"{rec.tagger_name} <{rec.tagger_email}>", rec.message,
            ))
        for fam in self.families.values():
            fam.events.sort(key=lambda e: e.key)

    def _family(self, name: str) -> FamilyState:
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = FamilyState(name)
        return fam

    def family(self, name: str) -> Optional[FamilyState]:
        return self.families.get(name)
