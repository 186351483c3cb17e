"""Errors of the registry: one exception type whose message is a single line."""


class RegistryError(Exception):
    """Bad input or a refused operation.

    The message is one line; the CLI prints ``error: <message>`` on stderr and exits 2.
    Nothing has been written when this is raised by a registry command.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split("\n")).strip())


def missing_extra(what: str, extra: str) -> RegistryError:
    """The error for a command whose optional dependencies (the distribution's ``extra``) are absent."""
    from .installed import install_command

    return RegistryError(f"{what} needs the {extra} extra: {install_command(extra)}")
