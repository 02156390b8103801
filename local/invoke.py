"""``make invoke FN=<LogicalId> EVENT=events/<file>.json``: run one function with a sample event and
print its result, like ``sam local invoke`` (but in-process, on moto provisioned from the template)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from local.context import LambdaContext
from local.stack import LOCAL_CREDENTIALS, function_environment, provision
from local.template import REGION, Template

TABLE = BUS = "careloop-invoke"


def invoke(logical_id: str, event: Any, tpl: Template | None = None) -> Any:
    import boto3
    from moto import mock_aws

    tpl = tpl or Template.default()
    fn = tpl.function(logical_id)
    os.environ.update(LOCAL_CREDENTIALS)
    os.environ.update(
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    )
    with mock_aws():
        stack = provision(boto3.Session(), table_name=TABLE, bus_name=BUS, tpl=tpl)
        os.environ.update(function_environment(tpl, logical_id, stack.names))
        handler = getattr(importlib.import_module(fn.module), fn.attribute)
        return handler(event, LambdaContext(logical_id, fn.memory, fn.timeout))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="careloop invoke", description=__doc__)
    parser.add_argument("function", help="logical id in template.yaml, e.g. IdentityFunction")
    parser.add_argument("event", type=Path, help="a sample event, e.g. events/identity/me.json")
    args = parser.parse_args(argv)
    tpl = Template.default()
    known = [f.logical_id for f in tpl.functions]
    if args.function not in known:
        sys.exit(f"unknown function {args.function!r}; template.yaml has: {', '.join(known)}")
    result = invoke(args.function, json.loads(args.event.read_text()), tpl)
    print(json.dumps(result, indent=2, default=str))  # noqa: T201


if __name__ == "__main__":
    main()
