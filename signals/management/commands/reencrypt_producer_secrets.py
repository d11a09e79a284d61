"""The first name of `reencrypt_machine_secrets`, kept for operators'
scripts: it re-encrypts every machine client's secrets, bridges' too."""

from machines.management.commands.reencrypt_machine_secrets import Command  # noqa: F401
