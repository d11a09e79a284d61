"""python -m tradeplatform_client post URL --key-id KEY --secret-env VAR FILE.json

Posts FILE.json (or `-` for stdin) exactly as it is, signed with the secret
read from the environment variable VAR (never from the command line, where
it would end up in the shell history and the process list). Prints the
status line and the response body; exits 0 on 2xx, 1 otherwise, 2 on usage
errors.
"""

import argparse
import os
import sys
import urllib.error

from tradeplatform_client.signing import post_signed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradeplatform_client", description=__doc__.split("\n\n")[1])
    commands = parser.add_subparsers(dest="command", required=True)
    post = commands.add_parser("post", help="POST a signed JSON file")
    post.add_argument("url")
    post.add_argument("--key-id", required=True, help="the producer's key id (X-Producer-Id)")
    post.add_argument("--secret-env", required=True, metavar="VAR", help="environment variable holding the secret")
    post.add_argument("file", help="JSON file to send, or - for stdin")
    post.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    secret = os.environ.get(args.secret_env)
    if not secret:
        parser.error(f"environment variable {args.secret_env} is not set")
    if args.file == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as handle:
            body = handle.read()
    try:
        status, headers, content = post_signed(args.url, body, key_id=args.key_id, secret=secret,
                                               timeout=args.timeout)
    except (urllib.error.URLError, OSError) as error:
        print(f"request failed: {error}", file=sys.stderr)
        return 1
    print(f"HTTP {status}" + (" (idempotent replay)" if headers.get("Idempotent-Replayed") == "true" else ""))
    print(content.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
