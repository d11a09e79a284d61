"""`python manage.py verify_audit`: accepts a good chain, names the first
broken seq, and catches entries cut off the end against a checkpoint; the
same for an export file with `--file`, offline."""

import io
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import chain
from audit.models import AuditEntry
from audit.services import append_entry

pytestmark = pytest.mark.django_db


def verify(*args):
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def broken(*args):
    with pytest.raises(CommandError) as failure:
        verify(*args)
    assert failure.value.returncode == 1
    return str(failure.value)


def execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_good_chain_is_accepted_and_its_head_printed(chain_of):
    head = chain_of(5)[-1]
    out = verify()
    assert "Audit chain intact: 5 entries." in out
    assert f"head seq=5 hash={head.hash}" in out
    assert f"checkpoint: 5:{head.hash}" in out
    assert verify("--batch-size", "2") == out


def test_an_empty_chain_is_accepted(db):
    assert "empty" in verify()


def test_an_edited_row_is_named(chain_of, triggers_lifted):
    chain_of(5)
    execute("UPDATE audit_auditentry SET meta = %s WHERE seq = 3", ['{"amount": "1000000"}'])
    message = broken("--batch-size", "2")
    assert "broken at seq 3" in message and "does not match its hash" in message


def test_a_forged_row_with_a_recomputed_hash_breaks_the_next_link(chain_of, triggers_lifted):
    entries = chain_of(5)
    forged = chain.entry_document(entries[2]) | {"actor": "innocent-bystander"}
    execute("UPDATE audit_auditentry SET actor = %s, hash = %s WHERE seq = 3",
            [forged["actor"], chain.compute_hash(forged)])
    message = broken()
    assert "broken at seq 4" in message and "prev_hash" in message


def test_a_rewritten_tail_is_caught_by_an_earlier_checkpoint(chain_of, triggers_lifted):
    """A forger who recomputes every hash after the edit keeps the chain
    consistent; only a head kept elsewhere shows it."""
    entries = chain_of(4)
    checkpoint = f"4:{entries[3].hash}"
    prev_hash = entries[1].hash
    for entry in entries[2:]:
        document = chain.entry_document(entry) | {"prev_hash": prev_hash, "meta": {"rewritten": True}}
        prev_hash = chain.compute_hash(document)
        execute("UPDATE audit_auditentry SET meta = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                ['{"rewritten": true}', document["prev_hash"], prev_hash, entry.seq])
    assert "intact" in verify()
    message = broken("--checkpoint", checkpoint)
    assert "broken at seq 4" in message and "checkpoint's hash" in message


def test_a_gap_is_named(chain_of, triggers_lifted):
    chain_of(5)
    execute("DELETE FROM audit_auditentry WHERE seq = 2")
    message = broken("--batch-size", "1")
    assert "broken at seq 2" in message and "missing" in message


def test_entries_cut_off_the_end_are_caught_by_the_checkpoint(chain_of, triggers_lifted):
    entries = chain_of(5)
    execute("DELETE FROM audit_auditentry WHERE seq >= 4")
    assert "head seq=3" in verify()  # the chain alone cannot tell
    message = broken("--checkpoint", f"5:{entries[4].hash}")
    assert "broken at seq 5" in message and "cut off" in message
    assert "head seq=3" in verify("--checkpoint", f"3:{entries[2].hash}")


def test_a_checkpoint_with_another_hash_fails(chain_of):
    entries = chain_of(3)
    assert "broken at seq 2" in broken("--checkpoint", f"2:{entries[0].hash}")


@pytest.mark.parametrize("args", [
    ["--checkpoint", "5"], ["--checkpoint", "0:" + "a" * 64], ["--checkpoint", "5:xyz"],
    ["--batch-size", "0"], ["--batch-size", "many"], ["--batch-size", "100001"],
])
def test_bad_arguments_are_refused(db, args):
    with pytest.raises(CommandError):
        verify(*args)


def test_the_walk_never_loads_the_whole_chain(chain_of, django_assert_num_queries):
    chain_of(9)
    assert AuditEntry.objects.count() == 9
    with django_assert_num_queries(1 + 3):  # the head, then three batches of 4, 4 and 1
        verify("--batch-size", "4")


# --- `--file`: a download of GET /api/v1/audit/export.jsonl, checked offline ---

def download(staff_api, path, **filters):
    """What an operator does: save the JSON Lines export to a file."""
    response = staff_api.get("/api/v1/audit/export.jsonl", filters)
    assert response.status_code == 200
    path.write_bytes(b"".join(response.streaming_content))
    return path


def lines_of(path):
    return path.read_bytes().decode("utf-8").splitlines(keepends=True)


def rewrite(path, lines):
    path.write_bytes("".join(lines).encode("utf-8"))
    return path


def with_document(line, **changes):
    return json.dumps(json.loads(line) | changes, ensure_ascii=False) + "\n"


@pytest.fixture
def exported(chain_of, staff_api, tmp_path):
    """Five entries, one with what a spreadsheet would run and non-ASCII text,
    downloaded to a file; and the entries as stored."""
    entries = chain_of(4)
    entries.append(append_entry(action="auth.login", status="failure", actor_type="user",
                                actor="@SUM(1+1)*cmd|' /C calc'!A0", meta={"note": "naïve ✓\u2028"}))
    return download(staff_api, tmp_path / "audit.jsonl"), entries


def test_a_downloaded_export_verifies_offline_and_prints_the_head(exported, django_assert_num_queries):
    path, entries = exported
    with django_assert_num_queries(0):
        out = verify("--file", str(path))
    assert "Audit export intact: 5 entries." in out
    assert f"head seq=5 hash={entries[-1].hash}" in out
    assert f"checkpoint: 5:{entries[-1].hash}" in out


def test_an_edited_line_is_named(exported):
    path, _ = exported
    lines = lines_of(path)
    lines[2] = with_document(lines[2], actor="innocent-bystander")
    message = broken("--file", str(rewrite(path, lines)))
    assert "Audit export broken at seq 3" in message and "does not match its hash" in message


def test_a_forged_line_with_a_recomputed_hash_breaks_the_next_link(exported):
    path, _ = exported
    lines = lines_of(path)
    forged = json.loads(lines[2]) | {"meta": {"amount": "1000000"}}
    lines[2] = with_document(lines[2], meta=forged["meta"], hash=chain.compute_hash(forged))
    message = broken("--file", str(rewrite(path, lines)))
    assert "broken at seq 4" in message and "prev_hash" in message


def test_a_missing_line_is_named_and_a_filtered_export_is_not_a_chain(exported, staff_api):
    path, _ = exported
    lines = lines_of(path)
    assert "broken at seq 2" in broken("--file", str(rewrite(path, lines[:1] + lines[2:])))
    message = broken("--file", str(download(staff_api, path, action="auth.login")))
    assert "broken at seq 5" in message and "starts at seq 5, not 1" in message and "unfiltered" in message
    message = broken("--file", str(rewrite(path, lines[:2] + lines[4:])))
    assert "entry 3 is missing (the next one is 5)" in message and "only an unfiltered one verifies" in message


def test_a_file_from_after_seq_1_needs_a_checkpoint_that_vouches_for_it(exported):
    path, entries = exported
    tail = rewrite(path, lines_of(path)[2:])  # seq 3 to 5
    assert "starts at seq 3, not 1" in broken("--file", str(tail))
    assert "starts at seq 3, not 1" in broken("--file", str(tail), "--checkpoint", f"1:{entries[0].hash}")
    # The file's first entry links from the checkpoint...
    out = verify("--file", str(tail), "--checkpoint", f"2:{entries[1].hash}")
    assert "Audit export intact: entries 3 to 5." in out and f"head seq=5 hash={entries[4].hash}" in out
    assert "broken at seq 3" in broken("--file", str(tail), "--checkpoint", f"2:{entries[0].hash}")
    # ...or the checkpoint's entry is in the file, and the links lead up to it.
    assert "intact" in verify("--file", str(tail), "--checkpoint", f"4:{entries[3].hash}")
    assert "broken at seq 4" in broken("--file", str(tail), "--checkpoint", f"4:{entries[2].hash}")
    message = broken("--file", str(tail), "--checkpoint", f"6:{entries[4].hash}")
    assert "broken at seq 6" in message and "cut off" in message


@pytest.mark.parametrize(("line", "problem"), [
    (b"not json\n", "line 3 is not JSON"),
    (b"\xff\xfe\n", "line 3 is not JSON"),
    (b"[" * 100_000 + b"\n", "line 3 is not JSON"),
    (b'{"seq": 3}\n', "line 3 is not an audit entry"),
    (b'{"seq": 3, "prev_hash": "\\u00e9", "hash": "x"}\n', "line 3 is not an audit entry"),
    (b"[3]\n", "line 3 is not an audit entry"),
])
def test_a_line_that_is_no_entry_is_named(exported, line, problem):
    path, _ = exported
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + [line] + lines[3:]))
    message = broken("--file", str(path))
    assert "broken at seq 3" in message and problem in message


def test_a_lone_surrogate_does_not_crash_the_check(exported):
    path, _ = exported
    lines = lines_of(path)
    lines[2] = lines[2].replace('"meta":{}', '"meta":{"x":"\\ud800"}')
    assert "broken at seq 3" in broken("--file", str(rewrite(path, lines)))


def test_the_file_can_come_on_stdin(exported, monkeypatch):
    path, entries = exported
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert f"head seq=5 hash={entries[-1].hash}" in verify("--file", "-")


def test_an_empty_file_is_an_empty_chain_and_a_missing_one_an_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert "Audit export is empty." in verify("--file", str(empty))
    with pytest.raises(CommandError) as failure:
        verify("--file", str(tmp_path / "nowhere.jsonl"))
    assert failure.value.returncode == 2 and "Cannot read" in str(failure.value)
    with pytest.raises(CommandError):
        verify("--file", str(empty), "--batch-size", "10")


def test_the_command_exits_0_or_1_without_a_database(exported):
    """As an auditor runs it on another machine: the settings point at a
    database that is not there, the file comes on stdin."""
    path, entries = exported
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nothing", "REDIS_URL": "redis://127.0.0.1:9/0"}

    def run(data):
        return subprocess.run([sys.executable, "manage.py", "verify_audit", "--file", "-"], input=data, env=env,
                              cwd=settings.BASE_DIR, capture_output=True, timeout=60)

    intact = run(path.read_bytes())
    assert intact.returncode == 0, intact.stderr
    assert f"checkpoint: 5:{entries[-1].hash}" in intact.stdout.decode()
    lines = lines_of(path)
    lines[3] = with_document(lines[3], status="failure")
    tampered = run("".join(lines).encode("utf-8"))
    assert tampered.returncode == 1
    assert "Audit export broken at seq 4" in tampered.stderr.decode()
