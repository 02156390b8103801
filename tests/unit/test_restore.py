"""The restore runbook's import template: CloudFormation adopts the restored table only if the
template describes it as it is, so it must match template.yaml's table in everything a restore keeps
and leave out everything a restore drops."""

from __future__ import annotations

import json
from pathlib import Path

from local.template import load
from ops.restore import NOT_RESTORED, import_template

KEY = "arn:aws:kms:us-east-1:123456789012:key/0b0e7d2c-1111-2222-3333-444455556666"


def test_the_import_template_is_the_table_as_restored_and_nothing_else(tmp_path: Path) -> None:
    full = load()
    adopted = import_template(full, KEY)
    assert list(adopted["Resources"]) == ["CareTable"] and "Outputs" not in adopted
    assert list(adopted["Parameters"]) == ["Stage"]
    table = adopted["Resources"]["CareTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    ours = full["Resources"]["CareTable"]["Properties"]
    kept = {k: v for k, v in ours.items() if k not in NOT_RESTORED and k != "SSESpecification"}
    props = table["Properties"]
    assert {k: v for k, v in props.items() if k != "SSESpecification"} == kept
    assert kept["TableName"] == {"Fn::Sub": "careloop-${Stage}"}  # the new stage's name
    assert len(kept["GlobalSecondaryIndexes"]) == 3
    assert props["SSESpecification"]["KMSMasterKeyId"] == KEY
    assert not set(NOT_RESTORED) & set(props)
    assert set(NOT_RESTORED) - {"Tags"} <= set(ours)  # what the full deploy then turns back on

    from cfnlint.api import lint_file
    from cfnlint.config import ManualArgs

    path = tmp_path / "import.json"
    path.write_text(json.dumps(adopted))
    assert [str(m) for m in lint_file(path, config=ManualArgs(regions=["us-east-1"]))] == []
