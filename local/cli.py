"""``careloop``: the local runtime's command line (installed into .venv/bin by ``make``).

careloop run [--seed] [--data-dir DIR]              serve Careloop locally (what `make run` does)
careloop token --org demo --role coordinator         a token from the running runtime
careloop invoke IdentityFunction events/identity/me.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request


def token(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="careloop token", description="Ask the running runtime for a token."
    )
    parser.add_argument("--org", required=True)
    parser.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        help="coordinator, nurse, physician, admin or patient (repeatable)",
    )
    parser.add_argument("--sub")
    parser.add_argument("--patient-id")
    default_url = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '3000')}"
    parser.add_argument("--url", default=default_url, help=f"the runtime (default {default_url})")
    args = parser.parse_args(argv)
    body = {"org": args.org, "roles": args.roles, "sub": args.sub, "patient_id": args.patient_id}
    request = urllib.request.Request(  # noqa: S310 (a local http URL the user chose)
        f"{args.url}/_local/token",
        data=json.dumps({k: v for k, v in body.items() if v}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            print(json.load(response)["token"])  # noqa: T201
    except urllib.error.HTTPError as exc:
        sys.exit(f"refused: {exc.read().decode()}")
    except urllib.error.URLError:
        sys.exit(f"no runtime at {args.url}: start it with `make run`")


def main() -> None:
    commands = {"run": "local.runtime", "invoke": "local.invoke"}
    if len(sys.argv) < 2 or sys.argv[1] not in (*commands, "token"):
        sys.exit(__doc__)
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "token":
        token(rest)
    else:
        import importlib

        importlib.import_module(commands[command]).main(rest)


if __name__ == "__main__":
    main()
