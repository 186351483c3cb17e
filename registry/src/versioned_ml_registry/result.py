"""What a registry command did: the tags it wrote and lines for the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Result:
    command: str
    family: str
    tags: List[str] = field(default_factory=list)
    version: Optional[str] = None
    messages: List[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"command": self.command, "family": self.family, "version": self.version,
                "tags": self.tags, "messages": self.messages, **self.data}
