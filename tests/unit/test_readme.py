"""The README stays true: its configuration reference is the one the policy model generates."""

from __future__ import annotations

from pathlib import Path

from cost_janitor.cli.policy import policy_reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_reference_matches_the_policy_model() -> None:
    text = README.read_text()
    section = text.split("<!-- policy-reference:start -->\n", 1)[1].split("\n<!-- policy-reference:end -->", 1)[0]
    assert section == policy_reference(), "regenerate with: make docs"


def test_readme_leads_with_the_two_commands() -> None:
    text = README.read_text()
    assert text.index("make demo") < text.index("make test") < text.index("## Deploy")


def test_readme_documents_every_field_of_the_findings_contract() -> None:
    from cost_janitor.core.models import Finding

    section = README.read_text().split("## Findings schema (SNS)", 1)[1].split("\n## ", 1)[0]
    fields = [f.alias or name for name, f in Finding.model_fields.items()]
    missing = [f for f in fields if f"`{f}`" not in section]
    assert not missing, f"README findings schema lacks {missing}"
