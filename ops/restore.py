"""The table's part of a restore into a new stack (the README's runbook, step 2): the template an
``IMPORT`` change set adopts the restored table with.

    python -m ops.restore --key-arn <the key the restore encrypted with> > import.json

CloudFormation adopts a resource only as it is. A restored table has template.yaml's keys and indexes,
but no stream, TTL, point-in-time recovery or deletion protection, and it is encrypted with the key the
restore named (the old stack's table key, which that stack retains). So this template says exactly
that, and nothing else: one resource, kept on deletion, the ``Stage`` parameter its name is made of,
no outputs. The full ``sam deploy`` that follows turns on what template.yaml declares (stream, TTL,
PITR, deletion protection, the new stack's own key) and creates everything around the table.
"""

from __future__ import annotations

import argparse
import json
from copy import deepcopy
from typing import Any

TABLE = "CareTable"
NOT_RESTORED = (
    "StreamSpecification",
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
    "DeletionProtectionEnabled",
    "Tags",
)


def import_template(template: dict[str, Any], key_arn: str) -> dict[str, Any]:
    """The import change set's template for ``template``'s table, restored with ``key_arn``."""
    table = deepcopy(template["Resources"][TABLE])
    properties = {k: v for k, v in table["Properties"].items() if k not in NOT_RESTORED}
    properties["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Careloop: a restored table adopted by a new stack (ops/restore.py)",
        "Parameters": {"Stage": template["Parameters"]["Stage"]},
        "Resources": {
            TABLE: {
                "Type": table["Type"],
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": properties,
            }
        },
    }


def main(argv: list[str] | None = None) -> None:
    from local.template import load

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--key-arn", required=True, help="the KMS key the restored table is encrypted with")
    args = parser.parse_args(argv)
    print(json.dumps(import_template(load(), args.key_arn), indent=2))


if __name__ == "__main__":
    main()
