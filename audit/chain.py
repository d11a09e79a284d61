"""The hash chain of the audit log (docs/api.md#audit-log), in one place: the API document of an entry,
its canonical JSON, and the hash that links it to the one before."""

import hashlib
import json

GENESIS_HASH = "0" * 64


def format_ts(ts) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_document(entry) -> dict:
    """The entry exactly as the API returns it (the serializer uses this too)."""
    return {
        "id": str(entry.id),
        "seq": entry.seq,
        "ts": format_ts(entry.ts),
        "actor_type": entry.actor_type,
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "status": entry.status,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
        "meta": entry.meta,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


# Built once: json.dumps with options builds a new encoder per call.
CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value) -> str:
    """The chain's canonical JSON: keys sorted, no whitespace, non-ASCII as is."""
    return CANONICAL_ENCODER.encode(value)


def canonical_json(document: dict) -> str:
    return canonical({key: value for key, value in document.items() if key != "hash"})


def canonical_json_around_link(document: dict) -> tuple[str, str, str]:
    """The canonical JSON of `document` cut where `prev_hash` and `seq` go:
    `before + prev_hash + between + str(seq) + after == canonical_json(document)`,
    so that the appending statement can fill in the link inside the database
    (`audit.services`). The last occurrences are the top-level keys: only
    `meta` nests, and it sorts before both; string values cannot hold the
    unescaped quotes the separators are made of."""
    linkless = {**document, "prev_hash": "", "seq": 0}
    del linkless["hash"]
    text = canonical(linkless)
    head, _, after = text.rpartition('"seq":0')
    before, _, between = head.rpartition('"prev_hash":""')
    return before + '"prev_hash":"', '"' + between + '"seq":', after


def linked(pieces: tuple[str, str, str], prev_hash: str, seq: int) -> tuple[str, str]:
    """The canonical JSON of a document cut by `canonical_json_around_link`,
    with its link filled in, and the document's hash (what `compute_hash`
    gives): the appender cuts each document before it takes the chain's
    lock, and only links it under the lock."""
    before, between, after = pieces
    text = before + prev_hash + between + str(seq) + after
    return text, hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def compute_hash(document: dict) -> str:
    return hashlib.sha256((document["prev_hash"] + canonical_json(document)).encode("utf-8")).hexdigest()
