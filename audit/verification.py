"""Walks the chain (contract §5): every entry's hash recomputed from its own
content, every `prev_hash` matched against the entry before, `seq` counting
1, 2, 3... with no gap; and optionally an operator's checkpoint, a head kept
off the machine, which is the only way to notice rows cut off the end."""

import hmac
import re
from dataclasses import dataclass

from audit import chain
from audit.selectors import entries_in_chain_order

CHECKPOINT_RE = re.compile(r"^(?P<seq>[1-9][0-9]{0,18}):(?P<hash>[0-9a-f]{64})$")


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        """`SEQ:HASH` as `verify_audit` prints it; ValueError otherwise."""
        match = CHECKPOINT_RE.match(text.strip().lower())
        if not match:
            raise ValueError("a checkpoint is SEQ:HASH, e.g. 1200:<64 hex digits of that entry's hash>")
        return cls(int(match["seq"]), match["hash"])


@dataclass(frozen=True)
class ChainReport:
    verified: int  # entries 1..verified hold
    head_hash: str | None  # hash of entry `verified`
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_chain(*, batch_size: int = 1000, checkpoint: Checkpoint | None = None) -> ChainReport:
    verified, head_hash = 0, None
    checkpoint_found = False
    for entry in entries_in_chain_order(batch_size=batch_size):
        fault = _first_fault(entry, verified + 1, head_hash or chain.GENESIS_HASH)
        if fault:
            return ChainReport(verified, head_hash, *fault)
        if checkpoint and entry.seq == checkpoint.seq:
            if not hmac.compare_digest(entry.hash, checkpoint.hash):
                return ChainReport(verified, head_hash, entry.seq,
                                   f"entry {entry.seq} no longer has the checkpoint's hash: the chain was "
                                   f"rewritten from there or earlier")
            checkpoint_found = True
        verified, head_hash = entry.seq, entry.hash
    if checkpoint and not checkpoint_found:
        return ChainReport(verified, head_hash, checkpoint.seq,
                           f"entry {checkpoint.seq} of the checkpoint is missing (the chain ends at seq {verified}): "
                           f"entries were cut off the end")
    return ChainReport(verified, head_hash)


def _first_fault(entry, expected_seq, prev_hash) -> tuple[int, str] | None:
    if entry.seq != expected_seq:
        return expected_seq, f"entry {expected_seq} is missing (the next one is {entry.seq})"
    if entry.prev_hash != prev_hash:
        return entry.seq, f"entry {entry.seq}'s prev_hash does not match the hash of entry {entry.seq - 1}"
    if not hmac.compare_digest(chain.compute_hash(chain.entry_document(entry)), entry.hash):
        return entry.seq, f"entry {entry.seq}'s content does not match its hash (edited after it was written)"
    return None
