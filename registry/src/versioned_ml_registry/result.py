"""What a registry command did: the tags it wrote and lines for the user."""

from __future__ import annotations


class Result:
    def __init__(self, command: str, family: str, tags: list[str] | None = None, version: str | None = None,
                 messages: list[str] | None = None, data: dict | None = None):
        self.command, self.family, self.version = command, family, version
        self.tags = tags if tags is not None else []
        self.messages = messages if messages is not None else []
        self.data = data if data is not None else {}

    def __repr__(self) -> str:
        return f"Result({self.command!r}, {self.family!r}, version={self.version!r}, tags={self.tags!r})"

    def as_dict(self) -> dict:
        return {"command": self.command, "family": self.family, "version": self.version,
                "tags": self.tags, "messages": self.messages, **self.data}
