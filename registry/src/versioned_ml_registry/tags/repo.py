"""A git repository seen through the registry.

Reads are per family: ``family(name)`` runs one ``git for-each-ref`` over that family's two
patterns, so its cost does not grow with other families' tags. Only ``all_families`` (for
``show`` without a family) reads every tag. Writes go through the family's journal
(:mod:`.journal`) in two steps, ``prepare`` (tag objects nobody sees yet) and ``write_prepared``
(the refs), so a command can publish the tags in between (``promote --push``).
"""

from __future__ import annotations

import os
import time as _time
from collections import namedtuple
from collections.abc import Callable, Sequence

from ..errors import RegistryError
from ..rules.stages import Stage
from . import gto_config
from . import refs as gitrefs
from .names import (
    DEFAULT_STAGES,
    family_patterns,
    gto_form,
    parse_tag,
    parse_version,
    validate_family,
    validate_stage,
)
from .refs import NewTag, TagRecord
from .state import FamilyState, VersionInfo


class PreparedWrite(namedtuple("PreparedWrite", "family groups")):
    """Tag objects made for one command, grouped in the ref transactions that will name them:
    ``groups`` is a list of steps, each a list of (tag name, tag object sha)."""

    def pairs(self) -> list[tuple[str, str]]:
        return [pair for group in self.groups for pair in group]


class Repo:
    def __init__(self, path: str | None = None, *, now: Callable[[], float] | None = None):
        self.toplevel, self.git_dir = gitrefs.find_repository(path)
        self.stages = DEFAULT_STAGES
        self._now = now or _time.time
        self._families: dict[str, FamilyState] = {}
        self._records: dict[str, list[TagRecord]] = {}
        self.notes: list[str] = []  # what recovering from an interrupted command did
        self.judge = None  # a trust.Judge: family states then leave out the tags it fails
        self.untrusted: dict[str, dict[str, str]] = {}  # family -> {tag: why it was left out}
        gto_config.check(self.toplevel, self.git_dir)
        self._recover_every_family()

    def reload(self) -> "Repo":
        self._families.clear()
        self._records.clear()
        return self

    def read_records(self, family: str) -> list[TagRecord]:
        return gitrefs.read_tags(self.toplevel, family_patterns(family))

    def _recover(self, family: str, strict: bool) -> None:
        """Finish or discard what a killed command left of this family (see :mod:`.journal`)."""
        if not os.path.exists(os.path.join(self.git_dir, "model-registry", f"{family}.journal")):
            return
        from . import journal

        try:
            note = journal.recover(self.toplevel, self.git_dir, family, lambda: self.read_records(family))
        except RegistryError:
            if strict:
                raise
            return  # a live writer: a read goes on with what is there
        if note:
            self.notes.append(note)

    def _recover_every_family(self) -> None:
        """Any registry command, whichever family it is about, finishes what a killed command
        left, so git's ref locks never outlive the next command."""
        try:
            names = os.listdir(os.path.join(self.git_dir, "model-registry"))
        except OSError:
            return
        for name in sorted(names):
            if name.endswith(".journal"):
                self._recover(name.removesuffix(".journal"), strict=False)

    # ---- reading --------------------------------------------------------------------
    def family_state(self, name: str) -> FamilyState:
        """The family's state (empty when it has no tags yet)."""
        validate_family(name)
        if name not in self._families:
            self._recover(name, strict=False)
            self._records[name] = self.read_records(name)
            if self.judge is not None:
                failing = self.judge.records(self._records[name])
                self.untrusted[name] = failing
                self._records[name] = [rec for rec in self._records[name] if rec.name not in failing]
            self._families[name] = FamilyState.from_records(name, self._records[name])
        return self._families[name]

    def family(self, name: str, write: bool = False) -> FamilyState:
        """The family's state; RegistryError when it has no tags, holds tags in GTO forms the
        registry does not read, or (``write``) has any inconsistent tag."""
        fam = self.require_known(self.family_state(name))
        self.require_consistent(fam, write)
        return fam

    def require_known(self, fam: FamilyState) -> FamilyState:
        """``fam``, unless no tag names it: then RegistryError naming the families there are."""
        if not fam.versions and not fam.events and not fam.foreign:
            known = ", ".join(sorted(self.family_names())) or "none"
            raise RegistryError(f"unknown family {fam.name!r} (known: {known})")
        return fam

    @staticmethod
    def require_consistent(fam: FamilyState, write: bool = True) -> None:
        problems = fam.problems() if write else [p for p in fam.problems() if "GTO" in p]
        if problems:
            more = f" (and {len(problems) - 1} more: model-registry verify lists them)" if len(problems) > 1 else ""
            raise RegistryError(problems[0] + more + ("; nothing written" if write else ""))

    def family_names(self) -> list[str]:
        names = {parsed.family for ref in gitrefs.tag_names(self.toplevel)
                 if (parsed := parse_tag(ref)) is not None}
        return sorted(names)

    def all_families(self, messages: bool = True) -> list[FamilyState]:
        """Every family, from one ``for-each-ref`` over all tags (``messages``: with the tag
        bodies, which ``show`` does not need)."""
        grouped: dict[str, list] = {}
        for rec in gitrefs.read_tags(self.toplevel, messages=messages):
            parsed = parse_tag(rec.name)
            family = parsed.family if parsed is not None else (gto_form(rec.name) or [None])[0]
            if family is not None:
                grouped.setdefault(family, []).append(rec)
        self._records = grouped
        self._families = {name: FamilyState.from_records(name, recs) for name, recs in grouped.items()}
        return [self._families[name] for name in sorted(self._families)]

    def version(self, fam: FamilyState, version: str) -> VersionInfo:
        vstring = "v" + str(parse_version(version))
        info = fam.get(vstring)
        if info is None:
            raise RegistryError(f"{fam.name} {vstring} was never released")
        return info

    def stage(self, stage: str) -> Stage:
        return validate_stage(stage, self.stages)

    def who(self) -> str:
        name, email = gitrefs.identity(self.toplevel)
        return f"{name} <{email}>"

    # ---- writing --------------------------------------------------------------------
    def write(self, family: str, tags: Sequence[NewTag]) -> list[str]:
        """Write ``tags`` all or none (see ``write_steps``)."""
        return self.write_steps(family, [tags])

    def write_steps(self, family: str, steps: Sequence[Sequence[NewTag]],
                    between: Callable[[int], None] | None = None) -> list[str]:
        """Write ``steps`` of tags: :meth:`prepare`, then :meth:`write_prepared`."""
        return self.write_prepared(self.prepare(family, steps), between)

    def prepare(self, family: str, steps: Sequence[Sequence[NewTag]]) -> PreparedWrite:
        """Time-stamp the tags (strictly increasing within the family) and create their tag
        objects; no ref names them yet, so nobody sees them until :meth:`write_prepared`."""
        who = gitrefs.identity(self.toplevel)
        t = max(int(self._now()), self.family_state(family).last_time + 1)
        tags = [tag for step in steps for tag in step]
        for tag in tags:
            tag.time = t
            t += 1
        objects = self.sealed(tags, who, self._records.get(family, []))
        shas = dict(zip((tag.name for tag in tags), gitrefs.write_objects(self.toplevel, objects)))
        return PreparedWrite(family, [[(tag.name, shas[tag.name]) for tag in step] for step in steps])

    def sealed(self, tags: Sequence[NewTag], who: tuple[str, str], existing: Sequence[TagRecord] = ()) -> list[bytes]:
        """The tag objects' bytes, signed when git is configured to sign, each checked against
        the authority policy before anything is written (:mod:`.trust`), in the light of the
        family's ``existing`` tags (a rollback returns to a version that held production)."""
        from . import signing, trust

        signer = signing.configured(self.toplevel, who[1])
        policy = trust.load_policy(self.toplevel)
        returning = trust.returning_versions(
            [*existing, *(TagRecord(tag.name, "", tag.commit, *who, tag.time, tag.message) for tag in tags)])
        objects = []
        for tag in tags:
            raw = gitrefs.tag_object_bytes(tag, *who)
            if signer is not None:
                raw += signer.sign(raw)
            refused = trust.refusal(policy, tag.name, tag.message, raw, tag.time, returning.get(tag.name, True))
            if refused:
                raise RegistryError(refused)
            objects.append(raw)
        return objects

    def write_prepared(self, prepared: PreparedWrite, between: Callable[[int], None] | None = None,
                       published: bool = False) -> list[str]:
        """Write the refs of prepared tags: one journal covers every step, so a command killed at
        any instant is completed or discarded as a whole by the next command (:mod:`.journal`);
        each step is one ref transaction, checked against the state the tags were computed from
        (``published``: against the state as it is now, since the remote already has the tags).
        ``between(i)`` runs after step ``i`` (and may raise to stop). The family's cached state
        is dropped."""
        from . import journal

        family, groups = prepared
        records = self.read_records(family) if published else self._records[family]
        pairs = prepared.pairs()
        try:
            with journal.FamilyWrite(self.toplevel, self.git_dir, journal.Journal(family, journal.fingerprint(records), pairs),
                                     lambda: self.read_records(family)):
                for index, group in enumerate(groups):
                    gitrefs.create_refs(self.toplevel, group)
                    if between is not None and index < len(groups) - 1:
                        between(index)
        finally:
            self.reload()
        return [name for name, _ in pairs]
