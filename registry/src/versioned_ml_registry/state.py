"""A family's registry state, derived only from its tags.

* holder of a stage   = the version of the stage's newest tag by tagger time; same-second ties
                        go to the tag name that sorts last (as ``dvc artifacts get`` does).
                        ``show``, ``resolve``, ``history``, serving and GTO all read this.
* status of a version = its newest stage tag.
* a canary is live while holder(canary) != holder(production).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

import semver

from .annotation import safe_body
from .errors import RegistryError
from .gitrefs import TagRecord
from .tags import DEFAULT_STAGES, StageTagName, VersionTagName, gto_form, parse_tag
from .transitions import Stage


def iso(ts: int) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Annotated:
    """A tag whose message carries the registry's YAML (who, why, provenance)."""

    message: str
    tagger: str
    _meta: Optional[dict]

    @property
    def meta(self) -> dict:
        if self._meta is None:
            self._meta = safe_body(self.message)
        return self._meta

    @property
    def by(self) -> str:
        by = self.meta.get("by")
        return by if isinstance(by, str) and by else self.tagger


@dataclass
class VersionInfo(Annotated):
    family: str
    version: "semver.Version"
    vstring: str  # "v1.2.3"
    tag: str
    commit: str
    time: int
    tagger: str
    message: str
    _meta: Optional[dict] = None

    @property
    def bundle_path(self) -> str:
        """The artifact path the release recorded; tags not written by `release` have none."""
        path = self.meta.get("path")
        if not isinstance(path, str) or not path:
            raise RegistryError(f"{self.tag} records no artifact path: it was not written by model-registry release")
        return path

    @property
    def signature(self) -> Optional[dict]:
        sig = self.meta.get("signature")
        return sig if isinstance(sig, dict) else None


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
    events: List[StageEvent] = field(default_factory=list)  # oldest -> newest
    foreign: List[tuple] = field(default_factory=list)  # (tag, what): GTO forms not read here
    _status: Optional[dict] = field(default=None, repr=False)  # version -> its newest stage tag

    @classmethod
    def from_records(cls, name: str, records: Iterable[TagRecord]) -> "FamilyState":
        fam = cls(name)
        stage_records = []
        for rec in records:
            parsed = parse_tag(rec.name)
            if parsed is None:
                form = gto_form(rec.name)
                if form and form[0] == name:
                    fam.foreign.append((rec.name, form[1]))
                continue
            if parsed.family != name:
                continue
            who = f"{rec.tagger_name} <{rec.tagger_email}>"
            if isinstance(parsed, VersionTagName):
                fam.versions[parsed.vstring] = VersionInfo(
                    name, parsed.version, parsed.vstring, rec.name, rec.commit, rec.time, who, rec.message)
            elif isinstance(parsed, StageTagName):
                stage_records.append((parsed, rec, who))
        at_commit = {}
        for info in fam.sorted_versions():  # the highest version at a commit wins
            at_commit[info.commit] = info.vstring
        for parsed, rec, who in stage_records:
            fam.events.append(StageEvent(name, parsed.stage, parsed.counter, rec.name, rec.commit,
                                         at_commit.get(rec.commit), rec.time, who, rec.message))
        fam.events.sort(key=lambda e: e.key)
        return fam

    # ---- versions -------------------------------------------------------------------
    def sorted_versions(self) -> List[VersionInfo]:
        def key(info):
            v = info.version
            return (v.major, v.minor, v.patch, v.prerelease is None, v.prerelease or "")
        return sorted(self.versions.values(), key=key)

    def highest(self) -> Optional[VersionInfo]:
        versions = self.sorted_versions()
        return versions[-1] if versions else None

    def version_at(self, commit: str) -> Optional[VersionInfo]:
        at = [v for v in self.versions.values() if v.commit == commit]
        return max(at, key=lambda v: v.version) if at else None

    def get(self, vstring: Optional[str]) -> Optional[VersionInfo]:
        return self.versions.get(vstring) if vstring else None

    # ---- stages ---------------------------------------------------------------------
    def newest_event(self, stage: str) -> Optional[StageEvent]:
        for ev in reversed(self.events):
            if ev.stage == stage:
                return ev
        return None

    def holder(self, stage: str) -> Optional[str]:
        """THE definition of a stage's holder (module docstring)."""
        ev = self.newest_event(stage)
        return ev.label if ev else None

    def holder_version(self, stage: str) -> Optional[str]:
        """The holder of ``stage`` as a version; RegistryError when its newest tag names none."""
        ev = self.newest_event(stage)
        if ev is not None and ev.version is None:
            raise RegistryError(f"the newest {stage} tag of {self.name}, {ev.tag}, points at {ev.commit[:12]}, "
                                "where no version is tagged: delete that tag or assign the stage again")
        return ev.version if ev else None

    def status_event(self, vstring: str) -> Optional[StageEvent]:
        if self._status is None:
            self._status = {}
            for ev in self.events:  # oldest -> newest: the last one wins
                self._status[ev.version] = ev
        return self._status.get(vstring)

    def status(self, vstring: str) -> Optional[str]:
        ev = self.status_event(vstring)
        return ev.stage if ev else None

    def held(self, vstring: str, stage: str) -> bool:
        return any(ev.version == vstring and ev.stage == stage for ev in self.events)

    def holders_sequence(self, stage: str) -> List[StageEvent]:
        return [ev for ev in self.events if ev.stage == stage]

    def stages_held_by(self, vstring: str, stages: Iterable[Stage]) -> List[Stage]:
        return [stage for stage in stages if self.holder(stage) == vstring]

    @property
    def canary_live(self) -> bool:
        canary = self.holder(Stage.CANARY)
        return canary is not None and canary != self.holder(Stage.PRODUCTION)

    @property
    def next_counter(self) -> int:
        return 1 + max((ev.counter for ev in self.events), default=0)

    @property
    def last_time(self) -> int:
        return max([v.time for v in self.versions.values()] + [e.time for e in self.events], default=0)

    # ---- consistency ----------------------------------------------------------------
    def problems(self) -> List[str]:
        """Tags that make the family ambiguous: GTO forms the registry does not read, stage
        tags where no version is tagged, and commits carrying two versions."""
        found = [f"{tag} is {what}: the registry cannot read it as GTO does; migrate by deleting it "
                 f"(git tag -d '{tag}' and on the remote) and re-assigning with model-registry promote"
                 for tag, what in self.foreign]
        found += [f"{ev.tag} points at {ev.commit[:12]}, where no version of {self.name} is tagged"
                  for ev in self.events if ev.version is None]
        by_commit: Dict[str, List[str]] = {}
        for info in self.sorted_versions():
            by_commit.setdefault(info.commit, []).append(info.vstring)
        found += [f"{self.name} {' and '.join(vs)} are tagged at the same commit {commit[:12]}: stage tags "
                  "there are ambiguous" for commit, vs in by_commit.items() if len(vs) > 1]
        return found

    # ---- reports --------------------------------------------------------------------
    def summary(self, stages: Iterable[str] = DEFAULT_STAGES) -> dict:
        highest = self.highest()
        versions = self.sorted_versions()
        return {
            "family": self.name,
            "latest": highest.vstring if highest else None,
            "versions": [v.vstring for v in versions],
            "holders": {str(s): self.holder(s) for s in stages},
            "canary_live": self.canary_live,
            "status": {v.vstring: self.status(v.vstring) for v in versions},
        }

    def history(self) -> List[dict]:
        rows = []
        for v in self.versions.values():
            m = v.meta
            reasons = m.get("reasons") if isinstance(m.get("reasons"), list) else []
            rows.append({
                "time": v.time, "when": iso(v.time), "tag": v.tag, "event": "release",
                "family": self.name, "version": v.vstring, "stage": None, "from_stage": None,
                "by": v.by, "bump": _text(m.get("bump")),
                "reason": "; ".join(str(r) for r in reasons) or None,
                "forced": m.get("forced"), "commit": v.commit,
            })
        for ev in self.events:
            m = ev.meta
            rows.append({
                "time": ev.time, "when": iso(ev.time), "tag": ev.tag,
                "event": _text(m.get("event")) or "assign", "family": self.name,
                "version": ev.label, "stage": ev.stage, "from_stage": _text(m.get("from_stage")),
                "by": ev.by, "reason": _text(m.get("reason")), "forced": m.get("forced"),
                "commit": ev.commit,
            })
        # a version tag before the stage tag written with it when times tie
        rows.sort(key=lambda r: (r["time"], r["stage"] is not None, r["tag"]))
        return rows


def _text(value) -> Optional[str]:
    return value if isinstance(value, str) else None
