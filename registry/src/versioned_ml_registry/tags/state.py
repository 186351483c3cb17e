"""A family's registry state, derived only from its tags.

* holder of a stage   = the version of the stage's newest tag by tagger time; same-second ties
                        go to the tag name that sorts last (as ``dvc artifacts get`` does).
                        ``show``, ``resolve``, ``history``, serving and GTO all read this.
* status of a version = its newest stage tag.
* a canary is live while holder(canary) != holder(production).
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable

from ..errors import RegistryError
from ..rules.stages import RETIRED, Stage
from .annotation import STAGE_SUBJECT, safe_body
from .names import (
    DEFAULT_STAGES,
    StageTagName,
    VersionTagName,
    gto_form,
    parse_tag,
    version_key,
)
from .refs import TagRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the read commands start faster
if TYPE_CHECKING:
    import semver


def iso(ts: int) -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(ts))


class Annotated:
    """A tag whose message carries the registry's YAML (who, why, provenance), parsed on
    first use: most reads never need it."""

    __slots__ = ("family", "tag", "commit", "time", "tagger", "message", "_meta")

    def __init__(self, family: str, tag: str, commit: str, time: int, tagger: str, message: str):
        self.family, self.tag, self.commit, self.time = family, tag, commit, time
        self.tagger, self.message, self._meta = tagger, message, None

    @property
    def meta(self) -> dict:
        if self._meta is None:
            self._meta = safe_body(self.message)
        return self._meta

    @property
    def by(self) -> str:
        by = self.meta.get("by")
        return by if isinstance(by, str) and by else self.tagger


class VersionInfo(Annotated):
    """A released version: its ``<family>@v<semver>`` tag."""

    __slots__ = ("vstring",)

    def __init__(self, family: str, vstring: str, tag: str, commit: str, time: int, tagger: str, message: str):
        super().__init__(family, tag, commit, time, tagger, message)
        self.vstring = vstring  # "v1.2.3"

    def __repr__(self) -> str:
        return f"VersionInfo({self.tag!r}, commit={self.commit[:12]!r})"

    @property
    def version(self) -> semver.Version:
        import semver

        return semver.Version.parse(self.vstring[1:])

    @property
    def bundle_path(self) -> str:
        """The artifact path the release recorded; tags not written by `release` have none."""
        path = self.meta.get("path")
        if not isinstance(path, str) or not path:
            raise RegistryError(f"{self.tag} records no artifact path: it was not written by model-registry release")
        return path

    @property
    def signature(self) -> dict | None:
        sig = self.meta.get("signature")
        return sig if isinstance(sig, dict) else None


class StageEvent(Annotated):
    """A stage assignment: its ``<family>#<stage>#<N>`` tag and the version at its commit."""

    __slots__ = ("stage", "counter", "version")

    def __init__(self, family: str, stage: str, counter: int, tag: str, commit: str, version: str | None,
                 time: int, tagger: str, message: str):
        super().__init__(family, tag, commit, time, tagger, message)
        self.stage, self.counter = stage, counter
        self.version = version  # "v1.2.3", or None when no version tag points at the commit

    def __repr__(self) -> str:
        return f"StageEvent({self.tag!r}, version={self.version!r})"

    @property
    def key(self):
        return (self.time, self.tag)

    @property
    def label(self) -> str:
        return self.version or f"commit:{self.commit[:12]}"


class FamilyState:
    """What one family's tags say: its versions, its stage events (oldest first), and tags in
    GTO forms the registry does not read (``foreign``: (tag, what))."""

    def __init__(self, name: str):
        self.name = name
        self.versions: dict[str, VersionInfo] = {}
        self.events: list[StageEvent] = []
        self.foreign: list[tuple] = []
        self._newest: dict[str, StageEvent] = {}  # stage -> its newest tag
        self._status: dict[str | None, StageEvent] = {}  # version -> its newest stage tag
        self._sorted: list[VersionInfo] = []

    @classmethod
    def from_records(cls, name: str, records: Iterable[TagRecord]) -> FamilyState:
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
                    name, parsed.vstring, rec.name, rec.commit, rec.time, who, rec.message)
            elif isinstance(parsed, StageTagName):
                stage_records.append((parsed, rec, who))
        at_commit = {}
        for info in fam.versions.values():  # without a named version, the highest at a commit
            held = at_commit.get(info.commit)
            if held is None or version_key(info.vstring) > version_key(held):
                at_commit[info.commit] = info.vstring
        for parsed, rec, who in stage_records:
            fam.events.append(StageEvent(name, parsed.stage, parsed.counter, rec.name, rec.commit,
                                         fam.assigned(rec, at_commit), rec.time, who, rec.message))
        fam.events.sort(key=lambda e: e.key)
        for ev in fam.events:  # in (tagger time, tag name) order, so the last one wins: the holder
            fam._newest[ev.stage] = ev
            fam._status[ev.version] = ev
        fam._sorted = sorted(fam.versions.values(), key=lambda info: version_key(info.vstring))
        return fam

    def assigned(self, rec: TagRecord, at_commit: dict) -> str | None:
        """The version a stage tag assigned: the one its subject line names (the registry's and
        GTO's "Assigning stage S to artifact F version V") when that version is tagged at the
        same commit, so a version tag added there later never renames the holder; else the
        highest version at its commit."""
        found = STAGE_SUBJECT.fullmatch(rec.message.partition("\n")[0].strip())
        if found and found["family"] == self.name:
            info = self.versions.get(found["version"])
            if info is not None and info.commit == rec.commit:
                return info.vstring
        return at_commit.get(rec.commit)

    def others_at(self, vstring: str) -> list[str]:
        """The other versions tagged at the commit of ``vstring``."""
        info = self.versions.get(vstring)
        return [v.vstring for v in self.sorted_versions() if info and v.commit == info.commit and v is not info]

    # ---- versions -------------------------------------------------------------------
    def sorted_versions(self) -> list[VersionInfo]:
        """Lowest to highest, in SemVer precedence."""
        return list(self._sorted)

    def highest(self) -> VersionInfo | None:
        versions = self.sorted_versions()
        return versions[-1] if versions else None

    def version_at(self, commit: str) -> VersionInfo | None:
        at = [v for v in self.versions.values() if v.commit == commit]
        return max(at, key=lambda v: version_key(v.vstring)) if at else None

    def get(self, vstring: str | None) -> VersionInfo | None:
        return self.versions.get(vstring) if vstring else None

    # ---- stages ---------------------------------------------------------------------
    def newest_event(self, stage: str) -> StageEvent | None:
        return self._newest.get(str(stage))

    def holder(self, stage: str) -> str | None:
        """THE definition of a stage's holder (module docstring)."""
        ev = self.newest_event(stage)
        return ev.label if ev else None

    def holder_version(self, stage: str) -> str | None:
        """The holder of ``stage`` as a version; RegistryError when its newest tag names none."""
        ev = self.newest_event(stage)
        if ev is not None and ev.version is None:
            raise RegistryError(f"the newest {stage} tag of {self.name}, {ev.tag}, points at {ev.commit[:12]}, "
                                "where no version is tagged: delete that tag or assign the stage again")
        return ev.version if ev else None

    def status_event(self, vstring: str) -> StageEvent | None:
        return self._status.get(vstring)

    def status(self, vstring: str) -> str | None:
        ev = self.status_event(vstring)
        return ev.stage if ev else None

    def held(self, vstring: str, stage: str) -> bool:
        return any(ev.version == vstring and ev.stage == stage for ev in self.events)

    def holders_sequence(self, stage: str) -> list[StageEvent]:
        return [ev for ev in self.events if ev.stage == stage]

    def successor(self, stage: str, leaving: str | None, fallback: str | None = None) -> str | None:
        """Who takes ``stage`` when ``leaving`` gives it up: its latest earlier holder that is still
        live (neither ``leaving`` nor retired), else ``fallback``."""
        for ev in reversed(self.holders_sequence(stage)):
            if ev.version and ev.version != leaving and self.status(ev.version) not in RETIRED:
                return ev.version
        return fallback

    def previous_production(self) -> str | None:
        """The production holder before the current one, skipping retired versions."""
        return self.successor(Stage.PRODUCTION, self.holder(Stage.PRODUCTION))

    def stages_held_by(self, vstring: str, stages: Iterable[Stage]) -> list[Stage]:
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
    def problems(self) -> list[str]:
        """Tags that make the family ambiguous: GTO forms the registry does not read, stage
        tags where no version is tagged, and commits carrying two versions."""
        found = [f"{tag} is {what}: the registry cannot read it as GTO does; migrate by deleting it "
                 f"(git tag -d '{tag}' and on the remote) and re-assigning with model-registry promote"
                 for tag, what in self.foreign]
        found += [f"{ev.tag} points at {ev.commit[:12]}, where no version of {self.name} is tagged"
                  for ev in self.events if ev.version is None]
        by_commit: dict[str, list[str]] = {}
        for info in self.sorted_versions():
            by_commit.setdefault(info.commit, []).append(info.vstring)
        found += [f"{self.name} {' and '.join(vs)} are tagged at the same commit {commit[:12]}: delete the one "
                  "that should not be there (git tag -d, and on the remote)" for commit, vs in by_commit.items() if len(vs) > 1]
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

    def history(self) -> list[dict]:
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


def _text(value) -> str | None:
    return value if isinstance(value, str) else None
