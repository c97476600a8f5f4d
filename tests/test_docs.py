"""Documentation that is tested: every setting and every CLI command is documented."""

import re

from app.cli import parser
from app.settings import ROOT


def test_every_environment_variable_is_documented() -> None:
    source = (ROOT / "app" / "settings.py").read_text()
    names = set(re.findall(r'"((?:MEDIATION|DATABASE|REDIS)_[A-Z_]+)"', source))
    names |= {
        f"MEDIATION_DEADLINE_{n}_HOURS" for n in ("SIMPLE", "GENERAL", "COMPLEX", "DIFFICULT")
    }
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert names, "found no variables: the pattern no longer matches settings.py"
    missing = sorted(n for n in names if f"`{n}`" not in documented)
    assert not missing, f"undocumented settings: {missing}"


def test_every_cli_command_is_documented() -> None:
    commands = set(parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    readme = (ROOT / "README.md").read_text()
    missing = sorted(c for c in commands if f"python -m app {c}" not in readme)
    assert not missing, f"commands missing from the README: {missing}"


def test_readme_has_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"
