"""The README documents every setting (a cheap test that keeps it honest)."""

from qa.core.settings import PROJECT_ROOT, Settings


def test_every_setting_is_in_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text("utf-8")
    missing = [name for name in Settings.model_fields if f"`HOIDAP_{name.upper()}`" not in readme]
    assert missing == []
