"""registryctl's exit codes and the errors that choose them (one table, documented in docs/registryctl.md).

An error's class decides its exit code, never the text of its message."""

from __future__ import annotations


class RegistryCtlError(RuntimeError):
    """A step failed; the message says which and what to do. It never contains a password."""


EXIT_OK = 0
EXIT_FAILED = 1
"""The command ran and something failed: the engine, a registry, a login; or an unexpected error."""
EXIT_USAGE = 2
"""Nothing ran: bad arguments, a missing or invalid stack file, invalid config, a refused --backend."""
EXIT_CONFIG = EXIT_USAGE
EXIT_NO_CLI = 3
"""The Pulumi CLI is not on PATH (and only that)."""
EXIT_NOT_CONFIRMED = 4
"""A production `up` was declined, or could not be asked (stdin not a terminal, no --yes)."""
EXIT_MISSING_EXTRA = 5
"""The stack needs Python packages of an extra that is not installed (`pip install -e '.[gcp]'`)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): the engine was asked to cancel; the message says what to check."""

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILED: "the command ran and failed (engine, registry, login, verify, gc) or an unexpected error",
    EXIT_USAGE: "nothing ran: bad arguments, missing/unreadable stack file, invalid config, refused --backend, "
    "a command the stack cannot take (e.g. destroy without --yes, retention apply without retention rules)",
    EXIT_NO_CLI: "the Pulumi CLI is not on PATH",
    EXIT_NOT_CONFIRMED: "a production `up` was declined or could not be asked (no terminal and no --yes)",
    EXIT_MISSING_EXTRA: "the stack needs an optional dependency set that is not installed (pip install -e '.[EXTRA]')",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the engine was asked to cancel",
}


class UsageError(RegistryCtlError):
    """The command cannot run as asked (a missing flag, a stack without what the command needs); nothing ran."""


class PulumiCliMissing(RegistryCtlError):
    """The Pulumi CLI is not on PATH."""


class MissingExtra(RegistryCtlError):
    """The stack needs SDKs of a pip extra that is not installed."""


class Interrupted(RegistryCtlError):
    """The user pressed Ctrl-C during an engine operation; the CLI was let cancel."""


class InputError(Exception):
    """A file given on the command line is missing or malformed; the message names the file and the field."""
