"""Walks the chain: every entry's hash recomputed from its own content, every
`prev_hash` matched against the entry before, `seq` counting up with no gap;
and optionally an operator's checkpoint, a head kept off the machine, which
is the only way to notice entries cut off the end.

The walk reads API documents, so it checks the database's chain and an
`export.jsonl` file alike; a file is read without the database."""

import hmac
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from audit import chain
from audit.selectors import entries_after, entries_in_chain_order

CHECKPOINT_RE = re.compile(r"^(?P<seq>[1-9][0-9]{0,18}):(?P<hash>[0-9a-f]{64})$")
HASH_RE = re.compile(r"[0-9a-f]{64}")
FILTERED_EXPORT_NOTE = "; an export filtered by anything leaves entries out, so only an unfiltered one verifies"


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
    verified: int  # the last seq of the entries that hold (0: none)
    head_hash: str | None  # hash of entry `verified`
    broken_seq: int | None = None
    problem: str | None = None
    first_seq: int = 1  # a file may start after seq 1, from a checkpoint

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


class MalformedLine(ValueError):
    """A line of a file that is not an audit entry's JSON."""


def verify_chain(*, batch_size: int = 1000, checkpoint: Checkpoint | None = None) -> ChainReport:
    """The database's chain, which starts at seq 1."""
    entries = entries_in_chain_order(batch_size=batch_size)
    return _walk((chain.entry_document(entry) for entry in entries), checkpoint=checkpoint, from_file=False)


def verify_after(start: Checkpoint | None, *, until: int, limit: int) -> ChainReport:
    """The database's chain from the entry after `start` (an entry already
    found to link back to seq 1), or from seq 1, up to seq `until`, at most
    `limit` entries: each hash recomputed, each link and seq checked from
    `start`'s hash on. What comes before `start` is not read again."""
    entries = entries_after(start.seq if start else 0, until=until, limit=limit)
    return _walk((chain.entry_document(entry) for entry in entries), checkpoint=None, from_file=False, start=start)


def verify_file(lines: Iterable[bytes], *, checkpoint: Checkpoint | None = None) -> ChainReport:
    """An `export.jsonl` file, one entry per line. It starts at seq 1, or
    anywhere a checkpoint vouches for: the file's first entry links from the
    checkpoint's (seq = checkpoint + 1), or the checkpoint's entry is in
    the file (the hashes before it link up to it)."""
    return _walk(documents_in_lines(lines), checkpoint=checkpoint, from_file=True)


def documents_in_lines(lines: Iterable[bytes]) -> Iterator[dict]:
    """The entries of a JSON Lines file; blank lines are skipped. Raises
    MalformedLine at the first line that is not an entry's JSON."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
            raise MalformedLine(f"line {number} is not JSON") from None
        if not (isinstance(document, dict) and type(document.get("seq")) is int
                and all(isinstance(document.get(key), str) and HASH_RE.fullmatch(document[key])
                        for key in ("prev_hash", "hash"))):
            raise MalformedLine(f"line {number} is not an audit entry (one with seq, prev_hash and hash)")
        yield document


def _walk(documents: Iterable[dict], *, checkpoint: Checkpoint | None, from_file: bool,
          start: Checkpoint | None = None) -> ChainReport:
    """`start`: the entry the documents follow (None: they start at seq 1)."""
    gap_note = FILTERED_EXPORT_NOTE if from_file else ""
    first_seq, head_seq, head_hash = None, 0, None
    expected_seq, prev_hash = 1, chain.GENESIS_HASH
    if start is not None:
        head_seq, head_hash = start.seq, start.hash
        expected_seq, prev_hash = start.seq + 1, start.hash
    checkpoint_found = False
    try:
        for document in documents:
            if first_seq is None:
                first_seq = document["seq"]
                if from_file and first_seq != 1:
                    prev_hash = _vouched_prev_hash(document, checkpoint)
                    if prev_hash is None:
                        return ChainReport(0, None, first_seq,
                                           f"the file starts at seq {first_seq}, not 1, and no checkpoint of seq "
                                           f"{first_seq - 1} or later vouches for it{gap_note}", first_seq)
                    expected_seq, checkpoint_found = first_seq, checkpoint.seq == first_seq - 1
            fault = _first_fault(document, expected_seq, prev_hash, gap_note)
            if fault:
                return ChainReport(head_seq, head_hash, *fault, first_seq)
            if checkpoint and document["seq"] == checkpoint.seq:
                if not _same_hash(document["hash"], checkpoint.hash):
                    return ChainReport(head_seq, head_hash, checkpoint.seq,
                                       f"entry {checkpoint.seq} no longer has the checkpoint's hash: the chain was "
                                       f"rewritten from there or earlier", first_seq)
                checkpoint_found = True
            head_seq, head_hash = document["seq"], document["hash"]
            expected_seq, prev_hash = head_seq + 1, head_hash
    except MalformedLine as malformed:
        return ChainReport(head_seq, head_hash, expected_seq, str(malformed), first_seq or expected_seq)
    if checkpoint and not checkpoint_found:
        return ChainReport(head_seq, head_hash, checkpoint.seq,
                           f"entry {checkpoint.seq} of the checkpoint is missing (the chain ends at seq {head_seq}): "
                           f"entries were cut off the end", first_seq or 1)
    return ChainReport(head_seq, head_hash, first_seq=first_seq or 1)


def _vouched_prev_hash(first: dict, checkpoint: Checkpoint | None) -> str | None:
    """The `prev_hash` a file's first entry, after seq 1, must have: the
    checkpoint's hash when the file continues from the checkpoint; its own
    when the checkpoint's entry comes later in the file (whose hash then
    vouches for every link before it); None when no checkpoint vouches."""
    if checkpoint is None or checkpoint.seq < first["seq"] - 1:
        return None
    return checkpoint.hash if checkpoint.seq == first["seq"] - 1 else first["prev_hash"]


def _first_fault(document, expected_seq, prev_hash, gap_note) -> tuple[int, str] | None:
    seq = document["seq"]
    if seq > expected_seq:
        return expected_seq, f"entry {expected_seq} is missing (the next one is {seq}){gap_note}"
    if seq < expected_seq:
        return expected_seq, f"entry {seq} comes again or out of order where entry {expected_seq} should be"
    if document["prev_hash"] != prev_hash:
        return seq, f"entry {seq}'s prev_hash does not match the hash of entry {seq - 1}"
    if not _same_hash(_recomputed_hash(document), document["hash"]):
        return seq, f"entry {seq}'s content does not match its hash (edited after it was written)"
    return None


def _same_hash(a: str, b: str) -> bool:
    # As bytes: compare_digest refuses non-ASCII text, which an edited row may hold.
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _recomputed_hash(document) -> str:
    try:
        return chain.compute_hash(document)
    except UnicodeEncodeError:  # a lone surrogate (`"\ud800"`) in a file: text no stored entry holds
        return ""
