"""The committed samples/ bundle is what README command 1 validates: it must stay clean."""

from pathlib import Path

from typer.testing import CliRunner

from omnimig.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_committed_samples_have_no_problems() -> None:
    result = CliRunner().invoke(app, ["validate", "--strict", "--format", "json", str(SAMPLES)])
    assert result.exit_code == 0, result.output
    assert '"errors": 0' in result.output and '"warnings": 0' in result.output
