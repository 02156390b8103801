"""The cost model (ops/cost.py) answers its inputs as a reader would expect: a price doubled doubles its
line, no activity leaves the fixed costs alone, every function and alarm of the template is counted,
the totals are the sums of their lines, and ``make cost``'s module prints the table."""

from __future__ import annotations

import json
import re
from copy import deepcopy
from typing import Any

import pytest

from ops import cost


@pytest.fixture(scope="module")
def inputs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    results = json.loads(cost.RESULTS.read_text())
    prices = json.loads(cost.PRICES.read_text())
    profile = json.loads(cost.PROFILE.read_text())
    facts = cost.template_facts(cost.load_template())
    return results, prices, profile, facts


def run(inputs: Any, prices: Any = None, profile: Any = None, facts: Any = None) -> dict[str, Any]:
    results, p, prof, fx = inputs
    return cost.model(results, prices or p, profile or prof, facts or fx)


def test_every_flow_of_the_profile_is_measured_by_the_flows_bench(inputs: Any) -> None:
    from bench.flows import FLOWS

    results, _, profile, _ = inputs
    assert set(profile["flows"]) <= set(results["flows"])
    assert set(profile["flows"]) <= {f.name for f in FLOWS}


@pytest.mark.parametrize(
    ("price", "lines"),
    [
        ("xray_trace_recorded", ["X-Ray traces"]),
        ("dynamodb_wru", ["DynamoDB writes"]),
        ("lambda_gb_second_arm64", ["Lambda compute", "Lambda cold starts (INIT)"]),  # both are GB-s
        ("http_api_request", ["API Gateway HTTP API"]),
        ("eventbridge_custom_event", ["EventBridge events"]),
    ],
)
def test_doubling_a_price_doubles_its_lines_and_nothing_else(
    inputs: Any, price: str, lines: list[str]
) -> None:
    facts = deepcopy(inputs[3])
    for function in facts["functions"].values():
        function["traced"] = True  # X-Ray on (TracingMode=Active), so its line has a price to double
    before = run(inputs, facts=facts)
    prices = deepcopy(inputs[1])
    prices[price]["usd"] *= 2
    after = run(inputs, prices=prices, facts=facts)
    for line in lines:
        assert before["by_service"][line] > 0
        assert after["by_service"][line] == pytest.approx(2 * before["by_service"][line])
    others = [k for k in before["by_service"] if k not in lines]
    assert [after["by_service"][k] for k in others] == pytest.approx(
        [before["by_service"][k] for k in others]
    )


def test_doubling_a_flows_activity_doubles_that_flows_cost(inputs: Any) -> None:
    profile = deepcopy(inputs[2])
    profile["flows"]["reading"]["per_patient_month"] *= 2
    before, after = run(inputs), run(inputs, profile=profile)
    assert after["per_flow"]["reading"] == pytest.approx(2 * before["per_flow"]["reading"])
    assert after["per_flow"]["visit"] == pytest.approx(before["per_flow"]["visit"])
    assert after["variable"] == pytest.approx(before["variable"] + before["per_flow"]["reading"])


def test_no_activity_leaves_only_the_fixed_costs(inputs: Any) -> None:
    profile = deepcopy(inputs[2])
    for spec in profile["flows"].values():
        spec["per_patient_month"] = 0
    idle, busy = run(inputs, profile=profile), run(inputs)
    assert idle["variable"] == 0
    assert all(v == 0 for v in idle["by_service"].values())
    assert all(v == 0 for v in idle["messaging"].values())
    assert idle["fixed"] == busy["fixed"]
    assert sum(idle["fixed"].values()) > 0


def test_every_function_and_alarm_of_the_template_is_counted(inputs: Any) -> None:
    from local.template import Template

    facts = inputs[3]
    assert set(facts["functions"]) == {f.logical_id for f in Template.default().functions}
    text = cost.TEMPLATE.read_text()
    alarms = len(re.findall(r"^\s+Type: AWS::CloudWatch::Alarm\s*$", text, flags=re.M))
    dashboards = len(re.findall(r"^\s+Type: AWS::CloudWatch::Dashboard\s*$", text, flags=re.M))
    assert (facts["alarms"], facts["dashboards"]) == (alarms, dashboards)
    assert alarms > 0
    fixed = run(inputs)["fixed"]
    prices = cost.unit_prices(inputs[1])
    # a metric-math alarm is billed per metric it reads: two business alarms read 2 and 4
    metrics = facts["alarm_metrics"]
    assert metrics == alarms - 2 + 2 + 4
    label = f"CloudWatch alarms ({alarms}, reading {metrics} metrics)"
    assert fixed[label] == pytest.approx(metrics * prices["cloudwatch_alarm_month"])
    # the Globals every function inherits: arm64, 1024 MB, X-Ray as TracingMode's default (off)
    assert {(f["architecture"], f["memory_mb"], f["traced"]) for f in facts["functions"].values()} == {
        ("arm64", 1024, False)
    }


def test_an_alarm_or_dashboard_added_to_the_template_costs_its_month(inputs: Any) -> None:
    template = cost.load_template()
    before = cost.template_facts(template)
    template["Resources"]["ExtraAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {}}
    template["Resources"]["Board"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}
    after = cost.template_facts(template)
    assert (after["alarms"], after["dashboards"]) == (before["alarms"] + 1, before["dashboards"] + 1)
    prices = cost.unit_prices(inputs[1])
    extra = sum(run(inputs, facts=after)["fixed"].values()) - sum(run(inputs, facts=before)["fixed"].values())
    assert extra == pytest.approx(prices["cloudwatch_alarm_month"] + prices["cloudwatch_dashboard_month"])


def test_the_totals_are_the_sums_of_their_lines(inputs: Any) -> None:
    m = run(inputs)
    assert m["variable"] == pytest.approx(sum(m["by_service"].values()))
    assert m["variable"] == pytest.approx(sum(m["per_flow"].values()))
    for name, lines in m["flow_lines"].items():
        assert m["per_flow"][name] == pytest.approx(sum(lines.values()))
    assert m["variable_per_1000"] == pytest.approx(m["variable"] * 1000 / m["patients"])


def test_the_model_answers_its_assumptions(inputs: Any) -> None:
    profile = deepcopy(inputs[2])
    profile["assumptions"]["cold_start_share"]["value"] = 0
    profile["assumptions"]["xray_sampled_share"]["value"] = 0
    m = run(inputs, profile=profile)
    assert m["by_service"]["Lambda cold starts (INIT)"] == 0
    assert m["by_service"]["X-Ray traces"] == 0
    facts = deepcopy(inputs[3])
    for f in facts["functions"].values():
        f["memory_mb"] *= 2
    base, big = run(inputs), run(inputs, facts=facts)
    assert big["by_service"]["Lambda compute"] == pytest.approx(2 * base["by_service"]["Lambda compute"])
    # INIT is CPU-bound: more memory, shorter INIT, the same GB-s
    assert big["by_service"]["Lambda cold starts (INIT)"] == pytest.approx(
        base["by_service"]["Lambda cold starts (INIT)"]
    )


def test_each_lever_is_the_model_rerun_with_that_change(inputs: Any) -> None:
    results, prices, profile, facts = inputs
    out = dict(cost.levers(results, prices, profile, facts))
    traced = deepcopy(facts)
    for function in traced["functions"].values():
        function["traced"] = True
    expected = cost.model(results, prices, profile, traced)["variable_per_1000"]
    assert out["X-Ray on (TracingMode=Active): what it would add"] == pytest.approx(expected)
    assert expected > cost.model(results, prices, profile, facts)["variable_per_1000"]
    now = cost.model(results, prices, profile, facts)["variable_per_1000"]
    lowering = [usd for label, usd in out.items() if usd < now and label != "all of those that lower it"]
    assert out["all of those that lower it"] < min(lowering)


def test_make_cost_prints_the_tables(capsys: pytest.CaptureFixture[str], inputs: Any) -> None:
    cost.main()
    printed = capsys.readouterr().out
    for name in inputs[2]["flows"]:
        assert re.search(rf"^{name}\s", printed, flags=re.M), name
    m = run(inputs)
    assert f"variable, before messaging{m['variable'] * 1000 / m['patients']:>18.4f}" in printed
    assert "dominates:" in printed and "What would halve it" in printed
    assert "Fixed, a month per deployment" in printed and "SMS out" in printed
