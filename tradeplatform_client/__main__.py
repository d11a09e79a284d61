"""tradeplatform-client CALL --base-url URL --key-id KEY --secret-env VAR [FILE.json]

Sends FILE.json (or `-` for stdin) exactly as it is, signed with the secret
read from the environment variable VAR (never from the command line, where
it would end up in the shell history and the process list), to one of the
platform's signed calls:

  signal, candles, equity              a strategy engine's calls (X-Producer-Id)
  bridge-symbols, bridge-poll, bridge-ack, bridge-fills, bridge-account
                                       a broker bridge's calls (X-Bridge-Id);
                                       bridge-poll sends {} when no FILE is given
  post URL                             any signed URL (--bridge for X-Bridge-Id)

Throttled (429) and failed (5xx) calls and dropped connections are retried
with backoff (`--attempts`, default 5), honouring Retry-After: every signed
call is idempotent. Prints the status line and the response body; exits 0 on
2xx, 1 otherwise, 2 on usage errors.
"""

import argparse
import os
import sys

from tradeplatform_client.retrying import BRIDGE_CALLS, PRODUCER_CALLS, GaveUp, SignedClient
from tradeplatform_client.signing import BRIDGE_KEY_HEADER, PRODUCER_KEY_HEADER


def _parser() -> argparse.ArgumentParser:
    usage, description = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(prog="tradeplatform-client", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--key-id", required=True, help="the producer's or bridge's key id")
    common.add_argument("--secret-env", required=True, metavar="VAR", help="environment variable holding the secret")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt (default 10)")
    common.add_argument("--attempts", type=int, default=5, help="tries before giving up (default 5)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="CALL")
    post = commands.add_parser("post", parents=[common], help="POST a signed JSON file to any URL")
    post.add_argument("url")
    post.add_argument("--bridge", action="store_true", help="sign as a bridge (X-Bridge-Id)")
    post.add_argument("file", help="JSON file to send, or - for stdin")
    for name, path in {**PRODUCER_CALLS, **{f"bridge-{call}": path for call, path in BRIDGE_CALLS.items()}}.items():
        call = commands.add_parser(name, parents=[common], help=f"POST /{path}")
        call.add_argument("--base-url", required=True, help="the platform, e.g. https://tradeplatform.example")
        call.add_argument("file", nargs="?" if name == "bridge-poll" else None, default=None,
                          help="JSON file to send, or - for stdin")
        call.set_defaults(path=path, bridge=name.startswith("bridge-"))
    return parser


def _read(file: str | None) -> bytes:
    if file is None:
        return b"{}"
    if file == "-":
        return sys.stdin.buffer.read()
    with open(file, "rb") as handle:
        return handle.read()


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        parser.error(f"environment variable {args.secret_env} is not set")
    if args.attempts < 1:
        parser.error("--attempts must be at least 1")
    url = args.url if args.command == "post" else args.base_url.rstrip("/") + "/" + args.path
    client = SignedClient(base_url=url, key_id=args.key_id, secret=secret, timeout=args.timeout,
                          attempts=args.attempts, key_header=BRIDGE_KEY_HEADER if args.bridge else PRODUCER_KEY_HEADER,
                          on_retry=lambda _, reason, seconds: print(f"{reason}: retrying in {seconds:.1f} s",
                                                                    file=sys.stderr))
    try:
        status, headers, content = client.post(url, _read(args.file))
    except GaveUp as error:
        print(f"request failed: {error}", file=sys.stderr)
        return 1
    print(f"HTTP {status}" + (" (idempotent replay)" if headers.get("Idempotent-Replayed") == "true" else ""))
    print(content.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
